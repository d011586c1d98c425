// Generated from contract/contract.json by tools/contract.py (make contract): do not edit.

export declare const MAX_MESSAGE_BYTES: number;
export declare const MAX_FRAME_BYTES: number;
export declare const ID_PATTERN: RegExp;
export declare const CLIENT_ID_LENGTH: number;
export declare const TRACE_FIELD: string;
export declare const TRACEPARENT_PATTERN: RegExp;
export declare const TRACE_NEW_FLAGS: string;

export declare const BackendErrorCode: {
  readonly INVALID_JSON: "invalid_json";
  readonly NOT_AN_OBJECT: "not_an_object";
  readonly MESSAGE_TOO_LARGE: "message_too_large";
  readonly INVALID_REQUEST: "invalid_request";
  readonly TOKEN_EXPIRED: "token_expired";
  readonly BACKEND_UNAVAILABLE: "backend_unavailable";
  readonly BACKEND_TIMEOUT: "backend_timeout";
  readonly BACKEND_ERROR: "backend_error";
  readonly BACKEND_INVALID_REPLY: "backend_invalid_reply";
  readonly INTERNAL_ERROR: "internal_error";
};
export type BackendErrorCode = (typeof BackendErrorCode)[keyof typeof BackendErrorCode];

export declare const ClientErrorCode: {
  readonly REFUSED: "refused";
  readonly CONNECT_TIMEOUT: "connect_timeout";
  readonly REPLY_TIMEOUT: "reply_timeout";
  readonly CONNECTION_LOST: "connection_lost";
  readonly CLOSED: "closed";
  readonly NO_TOKEN: "no_token";
  readonly MESSAGE_TOO_LARGE: "message_too_large";
  readonly QUEUE_FULL: "queue_full";
  readonly KICKED: "kicked";
  readonly GAVE_UP: "gave_up";
  readonly RESUME_FAILED: "resume_failed";
};
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export declare const FrameType: {
  readonly PING: "ping";
  readonly RESUME: "resume";
  readonly PONG: "pong";
  readonly ERROR: "error";
  readonly RESUMED: "resumed";
  readonly RESYNC_REQUIRED: "resync_required";
  readonly PENDING: "pending";
  readonly CHUNK: "chunk";
  readonly ROTATE: "rotate";
  readonly KICKED: "kicked";
};
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export declare const CLIENT_DEFAULTS_MS: { readonly connectTimeout: number, readonly replyTimeout: number, readonly keepalive: number, readonly gapTimeout: number, readonly maxDuration: number, readonly rolloverMargin: number, readonly backoffBase: number, readonly backoffMax: number };
export declare const CLIENT_DEFAULTS: { readonly maxQueue: number, readonly maxAttempts: number };
