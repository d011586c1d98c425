// The session protocol's fixed facts (docs/design.md, "Session protocol"): limits, request
// ids, error codes, client defaults, the backoff, a frame's size and a token's `exp`.
// contract/contract.json is their source (contract.js, generated); sdk/vectors/protocol.json
// holds the same constants beside the shared examples.

// The limits, the handler's error codes, the clients' own codes and the request id pattern
// are the contract's (contract/contract.json), generated into contract.js.
import {
  BackendErrorCode,
  CLIENT_DEFAULTS,
  CLIENT_DEFAULTS_MS as MS,
  CLIENT_ID_LENGTH,
  ClientErrorCode,
  ID_PATTERN,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  TRACE_NEW_FLAGS,
  TRACEPARENT_PATTERN,
} from "./contract.js";

export { BackendErrorCode, CLIENT_ID_LENGTH, ClientErrorCode, ID_PATTERN, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES };

const BACKEND_CODES = new Set(Object.values(BackendErrorCode));

/** True when `code` is one of the connection handler's error codes. */
export function isBackendErrorCode(code) {
  return BACKEND_CODES.has(code);
}

/** A failed send() or connect(): `code` is a BackendErrorCode, a ClientErrorCode, or the
 * `error` of the backend's own error reply. */
export class BridgeError extends Error {
  constructor(code, message, reply = undefined) {
    super(message || code);
    this.name = "BridgeError";
    this.code = code;
    this.reply = reply; // the server's error frame, when there was one
    this.requestId = reply && typeof reply.requestId === "string" ? reply.requestId : undefined;
  }
}

export const DEFAULTS = Object.freeze({
  auth: "subprotocol",
  connectTimeoutMs: MS.connectTimeout,
  replyTimeoutMs: MS.replyTimeout,
  keepaliveMs: MS.keepalive,
  gapTimeoutMs: MS.gapTimeout,
  maxQueue: CLIENT_DEFAULTS.maxQueue,
  // A browser sends a message as one frame, and API Gateway closes a connection that sends a
  // frame over 32 KB (1009): a larger request is refused here, not sent to be cut off.
  maxMessageBytes: MAX_FRAME_BYTES,
  maxDurationMs: MS.maxDuration,
  rolloverMarginMs: MS.rolloverMargin,
  backoff: Object.freeze({
    baseMs: MS.backoffBase,
    maxMs: MS.backoffMax,
    maxAttempts: CLIENT_DEFAULTS.maxAttempts,
  }),
});

/** Delay before attempt `attempt` (1-based): uniform in [c/2, c],
 * c = min(maxMs, baseMs * 2^(attempt-1)). The Python client uses the same formula. */
export function backoffDelay(attempt, backoff, random = Math.random) {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random client id: 12 characters of [A-Za-z0-9], from crypto.getRandomValues. */
export function newClientId() {
  const bytes = new Uint8Array(CLIENT_ID_LENGTH);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => ALPHABET[byte % ALPHABET.length]).join("");
}

/** True for a W3C traceparent (version 00, lowercase hex) whose ids are not all zeros. */
export function isValidTraceparent(value) {
  return (
    typeof value === "string" &&
    TRACEPARENT_PATTERN.test(value) &&
    value.slice(3, 35) !== "0".repeat(32) &&
    value.slice(36, 52) !== "0".repeat(16)
  );
}

/** A new W3C traceparent: random trace id and parent id (crypto.getRandomValues), sampled. */
export function newTraceparent() {
  for (;;) {
    const bytes = new Uint8Array(24);
    globalThis.crypto.getRandomValues(bytes);
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    const value = `00-${hex.slice(0, 32)}-${hex.slice(32)}-${TRACE_NEW_FLAGS}`;
    if (isValidTraceparent(value)) return value; // all zeros: drawn again
  }
}

const encoder = new TextEncoder();

/** The size of `text` in UTF-8 bytes, as it travels. */
export function utf8Size(text) {
  return encoder.encode(text).length;
}

/** A JWT's `exp` read from its payload WITHOUT verification (undefined: none readable). */
export function tokenExp(token) {
  if (typeof token !== "string" || token.split(".").length !== 3) return undefined;
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = payload + "=".repeat((4 - (payload.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    const exp = claims && typeof claims === "object" ? claims.exp : undefined;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `token` may replace `refused` after token_expired: its exp is later, or (when
 * either has no readable exp) it is another token. */
export function isLaterToken(token, refused) {
  if (token === refused) return false;
  const next = tokenExp(token);
  const old = tokenExp(refused);
  if (next === undefined || old === undefined) return true;
  return next > old;
}

/** `url` with `params` set in its query string. */
export function withQuery(url, params) {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params || {})) parsed.searchParams.set(key, value);
  return parsed.toString();
}

export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
