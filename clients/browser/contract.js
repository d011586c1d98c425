// Generated from contract/contract.json by tools/contract.py (make contract): do not edit.

/** API Gateway's limits: a message (either way), and one frame of it. */
export const MAX_MESSAGE_BYTES = 131072;
export const MAX_FRAME_BYTES = 32768;
/** A request id. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const CLIENT_ID_LENGTH = 12;
/** W3C Trace Context: the frame field, a valid value, a new trace's flags. */
export const TRACE_FIELD = "traceparent";
export const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
export const TRACE_NEW_FLAGS = "01";

/** Error codes the connection handler sends in `{"type":"error","error":<code>}`. */
export const BackendErrorCode = Object.freeze({
  INVALID_JSON: "invalid_json",
  NOT_AN_OBJECT: "not_an_object",
  MESSAGE_TOO_LARGE: "message_too_large",
  INVALID_REQUEST: "invalid_request",
  TOKEN_EXPIRED: "token_expired",
  BACKEND_UNAVAILABLE: "backend_unavailable",
  BACKEND_TIMEOUT: "backend_timeout",
  BACKEND_ERROR: "backend_error",
  BACKEND_INVALID_REPLY: "backend_invalid_reply",
  INTERNAL_ERROR: "internal_error",
});

/** Errors a client raises itself. */
export const ClientErrorCode = Object.freeze({
  REFUSED: "refused", // the first handshake closed before open (401/403, or unreachable)
  CONNECT_TIMEOUT: "connect_timeout", // the connection did not open in time
  REPLY_TIMEOUT: "reply_timeout", // no reply to a request in time
  CONNECTION_LOST: "connection_lost", // a ping whose connection closed before its pong
  CLOSED: "closed", // close() was called
  NO_TOKEN: "no_token", // getToken failed or returned nothing
  MESSAGE_TOO_LARGE: "message_too_large", // over the client's size limit: refused, nothing sent
  QUEUE_FULL: "queue_full", // maxQueue requests are waiting already
  KICKED: "kicked", // the backend ended the session's connection on purpose
  GAVE_UP: "gave_up", // backoff.maxAttempts failed attempts in a row
  RESUME_FAILED: "resume_failed", // the backend did not answer resume
});

/** The clients' defaults (milliseconds, and counts). */
export const CLIENT_DEFAULTS_MS = Object.freeze({"connectTimeout": 25000, "replyTimeout": 30000, "keepalive": 300000, "gapTimeout": 2000, "maxDuration": 7200000, "rolloverMargin": 300000, "backoffBase": 1000, "backoffMax": 30000});
export const CLIENT_DEFAULTS = Object.freeze({"maxQueue": 100, "maxAttempts": 5});

/** The `type` of every frame the protocol names. */
export const FrameType = Object.freeze({"PING": "ping", "RESUME": "resume", "PONG": "pong", "ERROR": "error", "RESUMED": "resumed", "RESYNC_REQUIRED": "resync_required", "PENDING": "pending", "CHUNK": "chunk", "ROTATE": "rotate", "KICKED": "kicked"});
