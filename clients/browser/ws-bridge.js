// Browser client of the WebSocket bridge: one dependency-free ES module, no build step.
//
//   import { WebSocketBridge } from "./ws-bridge.js";
//   const bridge = new WebSocketBridge(url, { getToken: () => fetchToken() });
//   bridge.on("push", (message) => ...);
//   await bridge.connect();
//   const reply = await bridge.send({ type: "command", command: "ls" });
//
// What it does, and why (see README.md beside this file for the whole story):
// - The token goes in the `bearer` subprotocol (`new WebSocket(url, ["bearer", jwt])`, the
//   server echoes `bearer`) or in the `token` query parameter (`auth: "query"`).
// - A connect that has not opened after `connectTimeoutMs` (25 s) is abandoned.
// - Browsers hide the HTTP status of a refused handshake: a 401 or 403 and an unreachable host
//   both show as close code 1006 before `open`. So a close before `open` on the first
//   connect() is final (state "closed", reason "refused": a bad token is never retried), and
//   during a reconnect it counts as a failed attempt, bounded by `backoff.maxAttempts` and
//   spaced by the backoff, so it never loops fast.
// - After a connection that had opened closes (the server dropped it, API Gateway's idle or
//   2-hour limit, DELETE @connections, a network change), it reconnects with capped
//   exponential backoff and jitter; not after close() or a close code in `stopOnCloseCodes`
//   (1008, policy violation, by default).
// - `{"type":"error","error":"token_expired"}` (a message sent after the token's `exp`; the
//   handler did not forward it) makes it ask `getToken` for a fresh token, reconnect at once
//   and send the refused message again.
// - `{"type":"ping"}` every `keepaliveMs` of silence (5 minutes; API Gateway closes a
//   connection idle for 10); a ping left unanswered for `replyTimeoutMs` drops the connection
//   and reconnects (a half-open socket).
// - send() resolves with the reply. Replies are matched by an id field the backend echoes
//   (`idField`), else by order: one request in flight at a time, the next sent when the
//   previous is answered. Messages sent while not open wait in a queue, flushed in order.

/** Error codes the connection handler sends in `{"type":"error","error":<code>}`. */
export const BackendErrorCode = Object.freeze({
  INVALID_JSON: "invalid_json",
  NOT_AN_OBJECT: "not_an_object",
  MESSAGE_TOO_LARGE: "message_too_large",
  BACKEND_UNAVAILABLE: "backend_unavailable",
  BACKEND_TIMEOUT: "backend_timeout",
  BACKEND_ERROR: "backend_error",
  BACKEND_INVALID_REPLY: "backend_invalid_reply",
  INTERNAL_ERROR: "internal_error",
  TOKEN_EXPIRED: "token_expired",
});

/** Errors this client raises itself (no server reply carries them). */
export const ClientErrorCode = Object.freeze({
  REFUSED: "refused", // the first handshake closed before open (401/403, or unreachable)
  CONNECT_TIMEOUT: "connect_timeout",
  REPLY_TIMEOUT: "reply_timeout",
  CONNECTION_LOST: "connection_lost", // sent, then the connection closed before the reply
  CLOSED: "closed", // close() was called, or reconnecting gave up
  NO_TOKEN: "no_token", // getToken failed or returned nothing
});

const BACKEND_CODES = new Set(Object.values(BackendErrorCode));

/** True when `code` is one of the backend contract's error codes. */
export function isBackendErrorCode(code) {
  return BACKEND_CODES.has(code);
}

/** A failed send() or connect(): `code` is a BackendErrorCode or a ClientErrorCode. */
export class BridgeError extends Error {
  constructor(code, message, reply = undefined) {
    super(message || code);
    this.name = "BridgeError";
    this.code = code;
    this.reply = reply; // the server's error message, when there was one
    this.requestId = reply && typeof reply.requestId === "string" ? reply.requestId : undefined;
  }
}

export const DEFAULTS = Object.freeze({
  auth: "subprotocol",
  connectTimeoutMs: 25_000,
  keepaliveMs: 300_000,
  replyTimeoutMs: 30_000,
  idField: null,
  stopOnCloseCodes: Object.freeze([1008]),
  backoff: Object.freeze({ baseMs: 1_000, maxMs: 30_000, maxAttempts: 5, stableMs: 10_000 }),
});

const PING = Object.freeze({ type: "ping" });

/** Delay before reconnect attempt `attempt` (1-based): uniform in [c/2, c],
 * c = min(maxMs, baseMs * 2^(attempt-1)). The Python client uses the same formula. */
export function backoffDelay(attempt, backoff, random = Math.random) {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** `url` with `params` set in its query string. */
export function withQuery(url, params) {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params || {})) parsed.searchParams.set(key, value);
  return parsed.toString();
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function defaultIsPush(message) {
  return isObject(message) && message.type === "push";
}

export class WebSocketBridge extends EventTarget {
  /**
   * @param {string} url the stage URL, `wss://<api>.execute-api.<region>.amazonaws.com/<stage>`
   * @param {import("./ws-bridge").BridgeOptions} options
   */
  constructor(url, options = {}) {
    super();
    if (options.token == null && typeof options.getToken !== "function") {
      throw new TypeError("WebSocketBridge needs options.token or options.getToken");
    }
    if (options.auth !== undefined && options.auth !== "subprotocol" && options.auth !== "query") {
      throw new TypeError('options.auth must be "subprotocol" or "query"');
    }
    this.url = url;
    this.options = {
      ...DEFAULTS,
      ...options,
      backoff: { ...DEFAULTS.backoff, ...(options.backoff || {}) },
    };
    this.state = "idle";
    this.protocol = ""; // the subprotocol the server selected ("bearer")
    this.lastMessage = undefined;
    this.attempt = 0; // failed attempts in a row since the last stable connection
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._isPush = options.isPush || defaultIsPush;
    this._socket = null;
    this._everOpened = false;
    this._queue = []; // requests not yet sent
    this._inflight = []; // requests sent, waiting for their reply
    this._nextId = 1;
    this._timers = new Set();
    this._connectTimer = null;
    this._keepaliveTimer = null;
    this._reconnectTimer = null;
    this._tokenReason = "connect";
    this._openWaiters = [];
  }

  // -- public API -------------------------------------------------------------------------

  /** Subscribe to an event; returns a function that unsubscribes. The listener gets the
   * event's detail: "state" {state, previous, reason, code}, "open" {protocol, reconnected},
   * "close" {code, reason, wasOpen, willReconnect}, "message" (every message, parsed),
   * "push" (messages that answer no request), "error" (a BridgeError). */
  on(type, listener) {
    const wrapped = (event) => listener(event.detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** Open the connection. Resolves once open; rejects with a BridgeError ("refused",
   * "connect_timeout", "closed", "no_token") when the first handshake fails. */
  connect() {
    if (this.state === "open") return Promise.resolve();
    const waiter = new Promise((resolve, reject) => this._openWaiters.push({ resolve, reject }));
    if (this.state === "idle" || this.state === "closed") {
      this._everOpened = false;
      this.attempt = 0;
      this._tokenReason = "connect";
      this._setState("connecting");
      this._open();
    }
    return waiter;
  }

  /** Send `message` (an object, JSON-encoded) and resolve with the reply. A reply
   * `{"type":"error"}` rejects with a BridgeError whose code is the reply's `error`.
   * While not open the message waits in the queue. */
  send(message, { timeoutMs } = {}) {
    if (!isObject(message)) return Promise.reject(new TypeError("send() takes a JSON object"));
    if (this.state === "closed" || this.state === "idle") {
      return Promise.reject(new BridgeError(ClientErrorCode.CLOSED, `not connected (${this.state})`));
    }
    return new Promise((resolve, reject) => {
      const body = { ...message };
      const idField = this.options.idField;
      if (idField && body[idField] == null) body[idField] = `r${this._nextId++}`;
      this._queue.push({
        body,
        resolve,
        reject,
        timeoutMs: timeoutMs ?? this.options.replyTimeoutMs,
        internal: false,
      });
      this._flush();
    });
  }

  /** Close for good (no reconnect); pending sends reject with "closed". */
  close(code = 1000, reason = "") {
    this._stop("closed", code, reason);
  }

  /** send() calls waiting: not yet sent (queued) and sent without a reply (inflight). */
  get pending() {
    const count = (requests) => requests.filter((request) => !request.internal).length;
    return { queued: count(this._queue), inflight: count(this._inflight) };
  }

  // -- connecting -------------------------------------------------------------------------

  async _open() {
    let token;
    try {
      token = await this._token();
    } catch (error) {
      this._attemptFailed(new BridgeError(ClientErrorCode.NO_TOKEN, `getToken failed: ${error}`));
      return;
    }
    if (this.state !== "connecting" && this.state !== "reconnecting") return; // closed meanwhile
    const { auth, query } = this.options;
    const url = withQuery(this.url, auth === "query" ? { ...query, token } : query);
    let socket;
    try {
      socket = auth === "query" ? new this._WebSocket(url) : new this._WebSocket(url, ["bearer", token]);
    } catch (error) {
      this._attemptFailed(new BridgeError(ClientErrorCode.REFUSED, `cannot open: ${error}`));
      return;
    }
    this._socket = socket;
    let opened = false;
    let openedAt = 0;
    let received = false;
    let timedOut = false;
    this._connectTimer = this._after(this.options.connectTimeoutMs, () => {
      timedOut = true;
      socket.close();
      if (!opened) detach({ code: 1006, reason: "connect timeout", wasClean: false });
    });
    socket.onopen = () => {
      if (this._socket !== socket) return;
      this._clear(this._connectTimer);
      opened = true;
      openedAt = Date.now();
      this._everOpened = true;
      const reconnected = this.state === "reconnecting";
      this.protocol = socket.protocol;
      this._tokenReason = "reconnect"; // what the next connect is, unless a token expires
      this._setState("open");
      this._emit("open", { protocol: socket.protocol, reconnected });
      for (const waiter of this._openWaiters.splice(0)) waiter.resolve();
      this._armKeepalive();
      this._flush();
    };
    socket.onmessage = (event) => {
      if (this._socket !== socket) return;
      received = true;
      this._receive(event.data);
    };
    socket.onclose = (event) => detach(event);
    const detach = (event) => {
      if (this._socket !== socket) return;
      this._socket = null;
      socket.onopen = socket.onmessage = socket.onclose = null;
      this._clear(this._connectTimer);
      this._clear(this._keepaliveTimer);
      if (!opened) {
        const code = timedOut ? ClientErrorCode.CONNECT_TIMEOUT : ClientErrorCode.REFUSED;
        const text = timedOut
          ? `not open after ${this.options.connectTimeoutMs} ms`
          : `handshake failed (close ${event.code} before open: refused, or unreachable)`;
        this._emit("close", { code: event.code, reason: event.reason, wasOpen: false, willReconnect: this._everOpened });
        this._attemptFailed(new BridgeError(code, text));
        return;
      }
      this._connectionLost(event, Date.now() - openedAt, received);
    };
  }

  async _token() {
    const { getToken, token } = this.options;
    const value = typeof getToken === "function" ? await getToken({ reason: this._tokenReason }) : token;
    if (typeof value !== "string" || !value) throw new Error("no token");
    return value;
  }

  /** A handshake failed before open. */
  _attemptFailed(error) {
    this._emit("error", error);
    if (!this._everOpened) {
      // The first connect: a refused token is never retried (and nothing tells it apart).
      this._stop(error.code === ClientErrorCode.CONNECT_TIMEOUT ? "timeout" : "refused", undefined, undefined, error);
      return;
    }
    this._scheduleReconnect(error);
  }

  /** An open connection closed. */
  _connectionLost(event, lastedMs, received) {
    for (const request of this._inflight.splice(0)) {
      if (request.internal) continue;
      if (request.resend) this._queue.unshift(request);
      else {
        this._clear(request.timer);
        request.reject(new BridgeError(ClientErrorCode.CONNECTION_LOST, `connection closed (${event.code}) before the reply`));
      }
    }
    const stop = this.options.stopOnCloseCodes.includes(event.code);
    this._emit("close", { code: event.code, reason: event.reason, wasOpen: true, willReconnect: !stop });
    if (stop) {
      this._stop("policy", event.code, event.reason);
      return;
    }
    if (lastedMs >= this.options.backoff.stableMs || received) this.attempt = 0;
    if (this._tokenReason === "token_expired") {
      this.attempt += 1; // reconnect at once: the cause is known and a new token fixes it
      this._setState("reconnecting", "token_expired", event.code);
      this._open();
      return;
    }
    this._tokenReason = "reconnect";
    this._scheduleReconnect(new BridgeError(ClientErrorCode.CONNECTION_LOST, `connection closed (${event.code})`));
  }

  _scheduleReconnect(error) {
    this.attempt += 1;
    const { backoff } = this.options;
    if (this.attempt > backoff.maxAttempts) {
      this._stop("gave_up", undefined, undefined, error);
      return;
    }
    const delay = backoffDelay(this.attempt, backoff);
    this._setState("reconnecting", error.code, undefined, delay);
    this._reconnectTimer = this._after(delay, () => {
      if (this.state === "reconnecting") this._open();
    });
  }

  /** The end: no socket, no timer, every pending request rejected. */
  _stop(reason, code, text, error) {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      if (socket.readyState === 0 || socket.readyState === 1) socket.close(code ?? 1000, text ?? "");
    }
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    const failure = error || new BridgeError(ClientErrorCode.CLOSED, `connection ${reason}`);
    for (const request of [...this._inflight.splice(0), ...this._queue.splice(0)]) {
      if (!request.internal) request.reject(failure);
    }
    for (const waiter of this._openWaiters.splice(0)) waiter.reject(failure);
    if (this.state !== "closed") this._setState("closed", reason, code);
  }

  // -- messages ---------------------------------------------------------------------------

  _receive(data) {
    let message = data;
    if (typeof data === "string") {
      try {
        message = JSON.parse(data);
      } catch {
        message = data;
      }
    }
    this.lastMessage = message;
    this._emit("message", message);
    if (isObject(message) && message.type === "error" && message.error === BackendErrorCode.TOKEN_EXPIRED) {
      this._tokenExpired(message);
      return;
    }
    const request = this._match(message);
    if (!request) {
      this._emit("push", message);
      return;
    }
    this._inflight.splice(this._inflight.indexOf(request), 1);
    this._clear(request.timer);
    if (isObject(message) && message.type === "error") {
      const code = typeof message.error === "string" ? message.error : BackendErrorCode.INTERNAL_ERROR;
      request.reject(new BridgeError(code, message.message || code, message));
    } else {
      request.resolve(message);
    }
    this._flush();
  }

  /** The request `message` answers, or undefined (a push). */
  _match(message) {
    if (!isObject(message) || this._inflight.length === 0) return undefined;
    const idField = this.options.idField;
    if (idField && message[idField] != null) {
      return this._inflight.find((request) => request.body[idField] === message[idField]);
    }
    if (message.type === "pong") return this._inflight.find((request) => request.body.type === "ping");
    if (message.type === "error") return this._inflight[0];
    if (this._isPush(message)) return undefined;
    return idField ? undefined : this._inflight.find((request) => request.body.type !== "ping");
  }

  /** The handler refused a message because the token's exp has passed, and closes the
   * connection. Send that message again over a connection with a fresh token. */
  _tokenExpired(message) {
    const error = new BridgeError(BackendErrorCode.TOKEN_EXPIRED, message.message || "token expired", message);
    this._emit("error", error);
    if (typeof this.options.getToken !== "function") {
      this._stop("token_expired", undefined, undefined, error);
      return;
    }
    for (const request of this._inflight) {
      request.resend = true; // refused by the handler, not forwarded: safe to send again
      this._clear(request.timer);
    }
    this._tokenReason = "token_expired";
    const socket = this._socket;
    if (socket) socket.close(1000, "token expired");
  }

  /** Send what the queue holds, as far as the correlation mode allows. */
  _flush() {
    const socket = this._socket;
    if (this.state !== "open" || !socket || socket.readyState !== 1) return;
    const serial = !this.options.idField;
    while (this._queue.length > 0 && !(serial && this._inflight.length > 0)) {
      const request = this._queue.shift();
      request.resend = false;
      socket.send(JSON.stringify(request.body));
      this._inflight.push(request);
      request.timer = this._after(request.timeoutMs, () => this._replyTimeout(request));
      this._armKeepalive();
    }
  }

  _replyTimeout(request) {
    const index = this._inflight.indexOf(request);
    if (index < 0) return;
    this._inflight.splice(index, 1);
    if (request.internal) {
      // An unanswered keepalive: the socket is half-open. Drop it; onclose reconnects.
      if (this._socket) this._socket.close(4000, "keepalive unanswered");
      return;
    }
    request.reject(new BridgeError(ClientErrorCode.REPLY_TIMEOUT, `no reply after ${request.timeoutMs} ms`));
    this._flush();
  }

  _armKeepalive() {
    this._clear(this._keepaliveTimer);
    const interval = this.options.keepaliveMs;
    if (!interval || interval <= 0) return;
    this._keepaliveTimer = this._after(interval, () => {
      const waiting = this._queue.some((r) => r.internal) || this._inflight.some((r) => r.internal);
      if (!waiting) {
        this._queue.push({
          body: PING,
          resolve: () => this._emit("keepalive", { answered: true }),
          reject: () => {},
          timeoutMs: this.options.replyTimeoutMs,
          internal: true,
        });
      }
      this._flush();
      this._armKeepalive();
    });
  }

  // -- helpers ----------------------------------------------------------------------------

  _setState(state, reason, code, delayMs) {
    const previous = this.state;
    this.state = state;
    this._emit("state", { state, previous, reason, code, attempt: this.attempt, delayMs });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _after(ms, callback) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      callback();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  _clear(timer) {
    if (timer == null) return;
    clearTimeout(timer);
    this._timers.delete(timer);
  }
}
