// Types of ws-bridge.js, the browser client of the WebSocket bridge (its session protocol:
// docs/design.md, "Session protocol").

// The handler's error codes and the client's own: the contract's (contract/contract.json),
// generated into contract.js and contract.d.ts.
import type { BackendErrorCode, ClientErrorCode } from "./contract.js";
export {
  BackendErrorCode,
  ClientErrorCode,
  CLIENT_DEFAULTS,
  CLIENT_DEFAULTS_MS,
  CLIENT_ID_LENGTH,
  FrameType,
  ID_PATTERN,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
} from "./contract.js";

export type ErrorCode = BackendErrorCode | ClientErrorCode;

export declare function isBackendErrorCode(code: unknown): code is BackendErrorCode;

/** An error frame: the handler's refusal (no `seq`) or the backend's error reply (`seq`). */
export interface ErrorReply {
  type: "error";
  error: BackendErrorCode | (string & {});
  message?: string;
  requestId?: string;
  id?: string;
  seq?: number;
  [key: string]: unknown;
}

export declare class BridgeError extends Error {
  readonly name: "BridgeError";
  /** A handler code, the backend's error reply's `error`, or one of the client's own. */
  readonly code: ErrorCode | (string & {});
  /** The error frame, when the error came from one. */
  readonly reply?: ErrorReply;
  readonly requestId?: string;
  constructor(code: string, message?: string, reply?: ErrorReply);
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
/** "none" before the first answer; "resync_required": the app reloads its state. */
export type ResumeState = "none" | "resuming" | "resumed" | "resync_required";

/** Why the state changed (on "reconnecting" and "closed"). */
export type StateReason =
  | ErrorCode
  | "refused" // the first handshake closed before open: never retried
  | "timeout" // the first handshake did not open within connectTimeoutMs
  | "gave_up" // backoff.maxAttempts failed attempts in a row
  | "policy" // the server closed with a code in stopOnCloseCodes
  | "token_expired" // no token later than the expired one (or no getToken to ask)
  | "kicked" // the backend ended the session on purpose
  | "paused"; // a reconnect waits: the page is offline or hidden

export interface TokenRequest {
  /** "connect", "reconnect", "token_expired" (a token later than the refused one is
   * wanted) or "rollover" (the make-before-break connection). */
  reason: "connect" | "reconnect" | "token_expired" | "rollover";
}

export interface Backoff {
  /** Ceiling of the first delay, ms (default 1000). */
  baseMs?: number;
  /** Cap of the ceiling, ms (default 30000). Each delay is uniform in [c/2, c]. */
  maxMs?: number;
  /** Failed attempts in a row before giving up (default 5); a resume answered restarts it. */
  maxAttempts?: number;
}

/** What the client watches for network and visibility (the window by default). */
export interface PageLike {
  navigator?: { onLine?: boolean };
  document?: { visibilityState?: string } & Pick<EventTarget, "addEventListener" | "removeEventListener">;
  addEventListener?: EventTarget["addEventListener"];
  removeEventListener?: EventTarget["removeEventListener"];
}

export interface BridgeOptions {
  /** A fixed token (no renewal: token_expired then closes the session). */
  token?: string;
  /** Asked before every handshake. */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** Where the token goes: "subprotocol" (`["bearer", jwt]`, the default; the module needs
   * `identity_sources = []`) or "query" (`?token=`). */
  auth?: "subprotocol" | "query";
  /** Other query parameters, e.g. `{ sessionId }`. */
  query?: Record<string, string>;
  /** A handshake not open after this long is abandoned (default 25000). */
  connectTimeoutMs?: number;
  /** A request, resume or ping without its answer after this long fails (default 30000). */
  replyTimeoutMs?: number;
  /** A ping after this long without a frame received (default 300000; 0: none). */
  keepaliveMs?: number;
  /** A gap in the stream still open after this long makes the client resume (default 2000). */
  gapTimeoutMs?: number;
  /** Requests waiting (queued or without an answer) at most; beyond, queue_full (100). */
  maxQueue?: number;
  /** The largest request, bytes of UTF-8 JSON (default 32768: a browser sends one frame a
   * message, and API Gateway closes on a frame over 32 KB). */
  maxMessageBytes?: number;
  /** API Gateway's connection limit (default 7200000) and how long before it the next
   * connection is made (default 300000). */
  maxDurationMs?: number;
  rolloverMarginMs?: number;
  /** Close codes after which it does not reconnect (default [1008]). */
  stopOnCloseCodes?: readonly number[];
  backoff?: Backoff;
  /** The WebSocket constructor (default globalThis.WebSocket). */
  WebSocket?: typeof WebSocket;
  /** The client id its request ids start with (default: 12 random characters). */
  clientId?: string;
  /** The jitter's random numbers in [0, 1) (default Math.random). */
  random?: () => number;
  /** What is watched for `online` and `visibilitychange` (default globalThis). */
  page?: PageLike;
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

export interface StreamMessage<Message = Record<string, unknown>> {
  /** The message's seq in the session's stream (a chunked message: its last chunk's). */
  seq: number;
  message: Message;
}

export interface BridgeEvents {
  state: StateDetail;
  open: { protocol: string; reconnected: boolean; rollover: boolean; connection: string };
  close: { code: number; reason: string; wasOpen: boolean; willReconnect: boolean; connection: string };
  /** Every stream message, in seq order, once: pushes and replies (its own included). */
  message: StreamMessage;
  resume: { state: ResumeState; lastSeq: number; headSeq: number };
  /** The stream moved past the backend's buffer: reload the app's state. */
  resync: { headSeq: number; lastSeq: number };
  rollover: { phase: "start" | "done"; from: string; to?: string };
  /** A frame that is no stream message and answers nothing of this client's. */
  unnumbered: unknown;
  error: BridgeError;
}

export interface SendOptions {
  timeoutMs?: number;
}

/** What request() returns: the request's id (undefined when it was refused at once), its W3C
 * traceparent, and send()'s promise of the reply. */
export interface SentRequest<Reply = Record<string, unknown>> {
  id: string | undefined;
  traceparent: string | undefined;
  reply: Promise<Reply>;
}

export declare const DEFAULTS: Readonly<{
  auth: "subprotocol";
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  keepaliveMs: number;
  gapTimeoutMs: number;
  maxQueue: number;
  maxMessageBytes: number;
  maxDurationMs: number;
  rolloverMarginMs: number;
  backoff: Readonly<Required<Backoff>>;
}>;
export declare const MAX_MESSAGE_BYTES: number;
export declare const MAX_FRAME_BYTES: number;
export declare const ID_PATTERN: RegExp;

export declare function backoffDelay(attempt: number, backoff: Required<Backoff>, random?: () => number): number;
export declare function withQuery(url: string, params?: Record<string, string>): string;
/** A JWT's `exp`, read WITHOUT verification. */
export declare function tokenExp(token: string): number | undefined;
export declare function isLaterToken(token: string, refused: string): boolean;
/** True for a W3C traceparent (version 00, lowercase hex) whose ids are not all zeros. */
export declare function isValidTraceparent(value: unknown): value is string;
/** A new W3C traceparent (random ids, sampled). */
export declare function newTraceparent(): string;

export declare class WebSocketBridge extends EventTarget {
  constructor(url: string, options: BridgeOptions);
  readonly url: string;
  readonly clientId: string;
  readonly state: ConnectionState;
  readonly closeReason: StateReason | string | undefined;
  readonly resumeState: ResumeState;
  /** The last seq delivered (no gap before it). */
  readonly lastSeq: number;
  /** The newest seq the backend reported on the last resume. */
  readonly headSeq: number;
  /** The subprotocol the server selected ("bearer"), "" before the first open. */
  readonly protocol: string;
  /** Failed attempts in a row. */
  readonly attempt: number;
  readonly pending: { queued: number; inflight: number };
  on<K extends keyof BridgeEvents>(type: K, listener: (detail: BridgeEvents[K]) => void): () => void;
  /** Resolves once the first resume is answered. */
  connect(): Promise<void>;
  send<Reply = Record<string, unknown>>(message: Record<string, unknown>, options?: SendOptions): Promise<Reply>;
  /** send(), with the request's id and traceparent at once. */
  request<Reply = Record<string, unknown>>(message: Record<string, unknown>, options?: SendOptions): SentRequest<Reply>;
  /** The handler's pong, or a rejection (no pong: the connection is dead and reopened). */
  ping(): Promise<void>;
  /** Make-before-break now. */
  rotate(): void;
  close(code?: number, reason?: string): void;
}
