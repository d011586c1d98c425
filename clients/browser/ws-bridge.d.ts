// Types of ws-bridge.js, the browser client of the WebSocket bridge.

/** Error codes of the backend contract: `{"type":"error","error":<code>,"message","requestId"}`. */
export declare const BackendErrorCode: {
  readonly INVALID_JSON: "invalid_json";
  readonly NOT_AN_OBJECT: "not_an_object";
  readonly MESSAGE_TOO_LARGE: "message_too_large";
  readonly BACKEND_UNAVAILABLE: "backend_unavailable";
  readonly BACKEND_TIMEOUT: "backend_timeout";
  readonly BACKEND_ERROR: "backend_error";
  readonly BACKEND_INVALID_REPLY: "backend_invalid_reply";
  readonly INTERNAL_ERROR: "internal_error";
  readonly TOKEN_EXPIRED: "token_expired";
};
export type BackendErrorCode = (typeof BackendErrorCode)[keyof typeof BackendErrorCode];

/** Errors the client raises itself. */
export declare const ClientErrorCode: {
  readonly REFUSED: "refused";
  readonly CONNECT_TIMEOUT: "connect_timeout";
  readonly REPLY_TIMEOUT: "reply_timeout";
  readonly CONNECTION_LOST: "connection_lost";
  readonly CLOSED: "closed";
  readonly NO_TOKEN: "no_token";
};
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export type ErrorCode = BackendErrorCode | ClientErrorCode;

export declare function isBackendErrorCode(code: unknown): code is BackendErrorCode;

/** What the connection handler sends when a message fails. */
export interface ErrorReply {
  type: "error";
  error: BackendErrorCode | (string & {});
  message?: string;
  requestId?: string;
  [key: string]: unknown;
}

/** The handler's own answer to `{"type":"ping"}`. */
export interface PongReply {
  type: "pong";
  timestamp: number;
  [key: string]: unknown;
}

export declare class BridgeError extends Error {
  readonly name: "BridgeError";
  /** A backend contract code (the reply's `error`) or one of the client's own. */
  readonly code: ErrorCode | (string & {});
  /** The server's error message, when the error came from one. */
  readonly reply?: ErrorReply;
  readonly requestId?: string;
  constructor(code: string, message?: string, reply?: ErrorReply);
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Why the state changed (on "reconnecting" and "closed"). */
export type StateReason =
  | ErrorCode
  | "refused" // the first handshake closed before open: never retried
  | "timeout" // the first handshake did not open within connectTimeoutMs
  | "gave_up" // backoff.maxAttempts failed attempts in a row
  | "policy" // the server closed with a code in stopOnCloseCodes
  | "token_expired"; // token expired and no getToken to ask for a new one

export interface TokenRequest {
  /** "connect" (connect() was called), "reconnect" (after a drop) or "token_expired". */
  reason: "connect" | "reconnect" | "token_expired";
}

export interface Backoff {
  /** Ceiling of the first delay, ms (default 1000). */
  baseMs?: number;
  /** Cap of the ceiling, ms (default 30000). Each delay is uniform in [c/2, c]. */
  maxMs?: number;
  /** Failed attempts in a row before giving up (default 5). */
  maxAttempts?: number;
  /** A connection open this long, or that received a message, restarts the count (10000). */
  stableMs?: number;
}

export interface BridgeOptions {
  /** A fixed token. */
  token?: string;
  /** Asked before every handshake: for a fresh token after token_expired, on reconnects. */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** Where the token goes: "subprotocol" (`["bearer", jwt]`, the default; the module needs
   * `identity_sources = []`) or "query" (`?token=`). */
  auth?: "subprotocol" | "query";
  /** Other query parameters, e.g. `{ sessionId }`. */
  query?: Record<string, string>;
  /** A handshake not open after this long is abandoned (default 25000). */
  connectTimeoutMs?: number;
  /** `{"type":"ping"}` after this long without sending (default 300000; 0 turns it off). */
  keepaliveMs?: number;
  /** send() rejects with "reply_timeout" after this long without its reply (default 30000). */
  replyTimeoutMs?: number;
  /** A field the backend echoes in its replies: requests then carry it (generated when
   * missing) and run concurrently. null (default): one request at a time, matched by order. */
  idField?: string | null;
  /** Tells a push from a reply while a request waits (default: `message.type === "push"`). */
  isPush?: (message: unknown) => boolean;
  /** Close codes after which it does not reconnect (default [1008]). */
  stopOnCloseCodes?: readonly number[];
  backoff?: Backoff;
  /** The WebSocket constructor (default globalThis.WebSocket). */
  WebSocket?: typeof WebSocket;
}

export interface StateDetail {
  state: ConnectionState;
  previous: ConnectionState;
  reason?: StateReason | string;
  code?: number;
  /** Failed attempts in a row. */
  attempt: number;
  /** On "reconnecting": the wait before the next attempt. */
  delayMs?: number;
}

export interface OpenDetail {
  /** The subprotocol the server selected: "bearer" with subprotocol auth. */
  protocol: string;
  reconnected: boolean;
}

export interface CloseDetail {
  code: number;
  reason: string;
  /** false: the handshake failed (a refusal and a network failure look the same). */
  wasOpen: boolean;
  willReconnect: boolean;
}

export interface BridgeEvents {
  state: StateDetail;
  open: OpenDetail;
  close: CloseDetail;
  /** Every message received (JSON-decoded when it is JSON). */
  message: unknown;
  /** Messages that answer no request: what the backend pushed through @connections. */
  push: unknown;
  error: BridgeError;
  /** A keepalive ping was answered. */
  keepalive: { answered: true };
}

export interface SendOptions {
  timeoutMs?: number;
}

export declare const DEFAULTS: Readonly<
  Required<Omit<BridgeOptions, "token" | "getToken" | "query" | "isPush" | "WebSocket" | "backoff">> & {
    backoff: Required<Backoff>;
  }
>;

export declare function backoffDelay(attempt: number, backoff: Required<Backoff>, random?: () => number): number;
export declare function withQuery(url: string, params?: Record<string, string>): string;

export declare class WebSocketBridge extends EventTarget {
  constructor(url: string, options: BridgeOptions);
  readonly url: string;
  readonly state: ConnectionState;
  /** The subprotocol the server selected ("bearer"), "" before the first open. */
  readonly protocol: string;
  readonly lastMessage: unknown;
  /** Failed attempts in a row. */
  readonly attempt: number;
  readonly pending: { queued: number; inflight: number };
  on<K extends keyof BridgeEvents>(type: K, listener: (detail: BridgeEvents[K]) => void): () => void;
  connect(): Promise<void>;
  send<Reply = Record<string, unknown>>(message: Record<string, unknown>, options?: SendOptions): Promise<Reply>;
  close(code?: number, reason?: string): void;
}
