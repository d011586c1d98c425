// Browser client of the WebSocket bridge: dependency-free ES modules, no build step.
//
//   import { WebSocketBridge } from "./ws-bridge.js";
//   const bridge = new WebSocketBridge(url, { getToken: () => fetchToken() });
//   bridge.on("message", ({ seq, message }) => render(seq, message));
//   await bridge.connect();
//   const reply = await bridge.send({ type: "command", command: "ls" });
//
// It speaks the session protocol of docs/design.md ("Session protocol"): every request has an
// id; the backend numbers what it sends; after every (re)connect the client resumes from the
// last seq it delivered, so messages arrive in order, each once, across drops; requests still
// without an answer are resent after the resume and run once (the backend's idempotency);
// before API Gateway's 2-hour limit, or on `rotate`, a second connection is made before the
// first is closed. session-core.js decides what each frame means, connection.js runs one
// socket; this file ties them to timers, tokens and the page. README.md tells the whole story.

import { Connection } from "./connection.js";
import {
  BackendErrorCode,
  BridgeError,
  ClientErrorCode,
  DEFAULTS,
  backoffDelay,
  isLaterToken,
  isObject,
  isValidTraceparent,
  newClientId,
  newTraceparent,
} from "./protocol.js";
import { SessionCore } from "./session-core.js";
import { watchPage } from "./page-watch.js";

export * from "./protocol.js";
export { SessionCore } from "./session-core.js";

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
      stopOnCloseCodes: [1008],
      ...options,
      backoff: { ...DEFAULTS.backoff, ...(options.backoff || {}) },
    };
    this.clientId = options.clientId || newClientId();
    this.state = "idle";
    this.closeReason = undefined; // why it closed: "closed", "gave_up", "kicked", "refused"...
    this.resumeState = "none"; // "resuming", "resumed", "resync_required"
    this.lastSeq = 0;
    this.headSeq = 0;
    this.protocol = "";
    this.attempt = 0; // failed attempts in a row since a resume was last answered
    const { maxQueue, maxMessageBytes } = this.options;
    this._core = new SessionCore(this.clientId, { maxQueue, maxMessageBytes });
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._random = options.random || Math.random;
    this._conns = new Map(); // name -> Connection
    this._names = 0;
    this._requests = new Map(); // id -> { resolve, reject, timer }
    this._waiters = []; // connect() promises
    this._timers = { reconnect: null, rollover: null, gap: null };
    this._everOpened = false;
    this._refusedToken = null; // the token of the last token_expired, until a later one works
    this._rolloverAttempt = 0;
    this._preparing = false; // a connection's token is being fetched
    this._pendingReconnect = false; // a reconnect waits for the page to be online and visible
    this._page = null;
  }

  // -- public API -------------------------------------------------------------------------

  /** Subscribe to an event; returns a function that unsubscribes. See README.md, "Events". */
  on(type, listener) {
    const wrapped = (event) => listener(event.detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** Open the session. Resolves once the first resume is answered; rejects with a
   * BridgeError ("refused", "connect_timeout", "closed", "gave_up", ...) when it ends first. */
  connect() {
    if (this.state === "open" && this._core.ready) return Promise.resolve();
    const waiter = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (this.state === "idle" || this.state === "closed") {
      this._everOpened = false;
      this.closeReason = undefined;
      this.attempt = 0;
      this._page = watchPage(this.options.page ?? globalThis, () => this._pageBack());
      this._setState("connecting");
      this._openConnection("connect");
    }
    return waiter;
  }

  /** Send a request (a JSON object; an `id` is added unless it has one) and resolve with its
   * reply, or reject with a BridgeError: the error reply's code, `message_too_large` or
   * `queue_full` at once (nothing sent), `reply_timeout`, `closed`, `kicked`... */
  send(message, options = {}) {
    return this.request(message, options).reply;
  }

  /** send() that also tells the request's `id` and `traceparent` at once, to log them before
   * the reply: returns { id, traceparent, reply } (`reply`: send()'s promise). Each request
   * carries a fresh W3C traceparent (docs/design.md, "Tracing") unless the message has a
   * valid one of its own; resends keep it. `id` is undefined when nothing was taken. */
  request(message, { timeoutMs } = {}) {
    const traced = isObject(message) && !isValidTraceparent(message.traceparent)
      ? { ...message, traceparent: newTraceparent() }
      : message;
    const traceparent = isObject(traced) ? traced.traceparent : undefined;
    if (this.state === "closed" || this.state === "idle") {
      const reply = Promise.reject(new BridgeError(ClientErrorCode.CLOSED, `not connected (${this.state})`));
      return { id: undefined, traceparent, reply };
    }
    let taken;
    try {
      taken = this._core.request(traced);
    } catch (error) {
      return { id: undefined, traceparent, reply: Promise.reject(error) };
    }
    const { id, actions } = taken;
    const reply = new Promise((resolve, reject) => {
      const ms = timeoutMs ?? this.options.replyTimeoutMs;
      const timer = setTimeout(() => {
        this._requests.delete(id);
        this._core.forget(id);
        reject(new BridgeError(ClientErrorCode.REPLY_TIMEOUT, `no reply to ${id} after ${ms} ms`));
      }, ms);
      this._requests.set(id, { resolve, reject, timer });
    });
    this._run(null, actions);
    return { id, traceparent, reply };
  }

  /** Ping on the primary connection and resolve with the handler's pong. */
  ping() {
    const conn = this._conns.get(this._core.primary);
    if (!conn || !conn.opened) return Promise.reject(new BridgeError(ClientErrorCode.CLOSED, "no open connection"));
    return conn.ping();
  }

  /** Make-before-break now: open a second connection, resume on it, then close the first. */
  rotate() {
    const primary = this._conns.get(this._core.primary);
    if (this.state !== "open" || !this._core.ready || this._core.candidate !== null || !primary) return;
    if (this._preparing || this._conns.size > 1) return; // one is already being opened
    this._emit("rollover", { phase: "start", from: primary.name });
    this._openConnection("rollover");
  }

  /** Close for good (no reconnect); waiting requests reject with "closed". A later
   * connect() resumes where this left off. */
  close(code = 1000, reason = "") {
    this._stop("closed", code, reason);
  }

  /** Requests waiting: not yet sent (queued) and sent without an answer (inflight). */
  get pending() {
    const queued = this._core.queued.length;
    return { queued, inflight: this._core.waiting.size - queued };
  }

  // -- connecting -------------------------------------------------------------------------

  async _openConnection(reason) {
    const name = `c${++this._names}`;
    this._preparing = true;
    const rollover = reason === "rollover";
    let token;
    try {
      token = await this._token(this._refusedToken ? "token_expired" : reason);
    } catch (error) {
      this._preparing = false;
      this._failedBeforeOpen(rollover, new BridgeError(ClientErrorCode.NO_TOKEN, `getToken failed: ${error.message || error}`));
      return;
    }
    this._preparing = false;
    if (this.state === "closed" || this.state === "idle") return; // closed meanwhile
    if (this._refusedToken && !isLaterToken(token, this._refusedToken)) {
      const error = new BridgeError(BackendErrorCode.TOKEN_EXPIRED, "getToken returned no token later than the expired one");
      this._failedBeforeOpen(rollover, error);
      return;
    }
    const { auth, query, connectTimeoutMs, keepaliveMs, replyTimeoutMs } = this.options;
    const conn = new Connection(
      { name, url: this.url, token, auth, query, WebSocket: this._WebSocket, connectTimeoutMs, keepaliveMs, replyTimeoutMs },
      {
        onOpen: (opened) => this._opened(opened),
        onFrame: (from, frame) => this._frame(from, frame),
        onEnd: (ended, detail) => this._ended(ended, detail),
      },
    );
    this._conns.set(name, conn);
    try {
      conn.open();
    } catch (error) {
      this._conns.delete(name);
      this._failedBeforeOpen(rollover, error);
    }
  }

  _failedBeforeOpen(rollover, error) {
    this._emit("error", error);
    this._attemptFailed(rollover, error);
  }

  async _token(reason) {
    const { getToken, token } = this.options;
    const value = typeof getToken === "function" ? await getToken({ reason }) : token;
    if (typeof value !== "string" || !value) throw new Error("no token");
    return value;
  }

  _opened(conn) {
    const reconnected = this._everOpened;
    this._everOpened = true;
    const actions = this._core.open(conn.name);
    const primary = this._core.primary === conn.name;
    if (primary) {
      this.protocol = conn.protocol;
      if (this.state !== "open") this._setState("open");
      this._setResume("resuming");
    }
    this._emit("open", { protocol: conn.protocol, reconnected: primary && reconnected, rollover: !primary, connection: conn.name });
    this._run(conn.name, actions);
  }

  _frame(conn, frame) {
    if (this._conns.has(conn.name)) this._run(conn.name, this._core.receive(conn.name, frame));
  }

  /** A connection ended without the session asking: a drop, a refusal, a dead peer, a
   * token_expired, an unanswered resume. */
  _ended(conn, { code, reason, wasOpen, cause }) {
    this._conns.delete(conn.name);
    const wasPrimary = this._core.primary === conn.name;
    this._core.lost(conn.name);
    if (cause) this._emit("error", cause);
    const stop = wasOpen && !cause && this.options.stopOnCloseCodes.includes(code);
    const refused = !wasOpen && !this._everOpened;
    this._emit("close", { code, reason, wasOpen, willReconnect: !stop && !refused, connection: conn.name });
    if (stop) return this._stop("policy", code, reason);
    const error = cause || this._closeError(code, wasOpen);
    if (refused) return this._stop(error.code === ClientErrorCode.CONNECT_TIMEOUT ? "timeout" : "refused", undefined, undefined, error);
    if (this._core.primary !== null) {
      // Another connection serves: this was a rollover's (try again later), or the primary
      // whose rollover connection now takes over.
      if (wasPrimary) this._setResume("resuming");
      else this._attemptFailed(true, error);
      return undefined;
    }
    if (this._conns.size > 0) {
      this._setState("reconnecting", error.code); // a rollover's connection on its way takes over
      return undefined;
    }
    return this._scheduleReconnect(error);
  }

  _closeError(code, wasOpen) {
    if (!wasOpen) return new BridgeError(ClientErrorCode.REFUSED, `handshake failed (close ${code} before open: refused, or unreachable)`);
    return new BridgeError(ClientErrorCode.CONNECTION_LOST, `connection closed (${code})`);
  }

  /** An attempt failed before its resume was answered (no token, a refused handshake). */
  _attemptFailed(rollover, error) {
    if (rollover && this._core.primary !== null) {
      // The first connection still serves: try the rollover again later.
      this._rolloverAttempt += 1;
      const delay = backoffDelay(this._rolloverAttempt, this.options.backoff, this._random);
      this._setTimer("rollover", delay, () => this.rotate());
      return;
    }
    const handshake = error.code === ClientErrorCode.REFUSED || error.code === ClientErrorCode.CONNECT_TIMEOUT;
    if (!this._everOpened && handshake) {
      // The first handshake: a refusal is final (a browser cannot tell a 401 from a host
      // that is down, and a bad token must not be retried). No token yet is retried.
      this._stop(error.code === ClientErrorCode.CONNECT_TIMEOUT ? "timeout" : "refused", undefined, undefined, error);
      return;
    }
    this._scheduleReconnect(error);
  }

  _scheduleReconnect(error) {
    this.attempt += 1;
    const { backoff } = this.options;
    if (this.attempt > backoff.maxAttempts) {
      const reason = this._refusedToken ? BackendErrorCode.TOKEN_EXPIRED : ClientErrorCode.GAVE_UP;
      const text = `${reason === ClientErrorCode.GAVE_UP ? "gave up" : "no fresh token"} after ${backoff.maxAttempts} attempts: ${error.message}`;
      this._stop(reason, undefined, undefined, new BridgeError(reason, text));
      return;
    }
    const delay = backoffDelay(this.attempt, backoff, this._random);
    this._setState("reconnecting", error.code, undefined, delay);
    this._setTimer("reconnect", delay, () => this._reconnectNow());
  }

  _reconnectNow() {
    this._clearTimer("reconnect");
    if (this.state !== "reconnecting") return;
    if (this._page && this._page.paused()) {
      this._pendingReconnect = true; // offline or hidden: wait until the page is back
      this._setState("reconnecting", "paused");
      return;
    }
    this._pendingReconnect = false;
    this._openConnection(this._refusedToken ? "token_expired" : "reconnect");
  }

  /** The page came back online or visible: check the connection, or reconnect now. */
  _pageBack() {
    if (this.state === "reconnecting" && (this._pendingReconnect || this._timers.reconnect !== null)) {
      this._reconnectNow();
    } else if (this.state === "open") {
      this.ping().catch(() => {}); // no pong: the connection ends and reconnects
    }
  }

  /** The end: no socket, no timer, every waiting request rejected. */
  _stop(reason, code, text, error) {
    for (const conn of this._conns.values()) conn.dispose(code ?? 1000, text ?? "");
    for (const name of this._conns.keys()) this._core.lost(name);
    this._conns.clear();
    for (const key of Object.keys(this._timers)) this._clearTimer(key);
    this._page?.stop();
    this._page = null;
    const failure = error || new BridgeError(ClientErrorCode.CLOSED, `connection ${reason}`);
    for (const [id, request] of this._requests) {
      clearTimeout(request.timer);
      this._core.forget(id);
      request.reject(failure);
    }
    this._requests.clear();
    for (const id of [...this._core.waiting.keys()]) this._core.forget(id);
    for (const waiter of this._waiters.splice(0)) waiter.reject(failure);
    if (this.state !== "closed") {
      this.closeReason = reason;
      this._setState("closed", reason, code);
    }
  }

  // -- what the core decided --------------------------------------------------------------

  _run(from, actions) {
    for (const action of actions) this._act(from, action);
    if (this._core.hasGap && this._timers.gap === null) {
      this._setTimer("gap", this.options.gapTimeoutMs, () => this._run(null, this._core.gapTimeout()));
    } else if (!this._core.hasGap) {
      this._clearTimer("gap");
    }
  }

  // One case per action of the core (session-core.js lists them): a flat dispatch reads
  // better than a table of small functions.
  _act(from, [kind, a, b]) {
    switch (kind) {
      case "send": {
        const conn = this._conns.get(a);
        if (b.type === "resume") conn?.armResume(this.options.replyTimeoutMs, new BridgeError(ClientErrorCode.RESUME_FAILED, "resume unanswered"));
        conn?.send(b);
        return;
      }
      case "deliver":
        this.lastSeq = a;
        this._emit("message", { seq: a, message: b });
        return;
      case "reply":
      case "reject":
        return this._settle(kind, a, b);
      case "token_expired":
        return this._tokenExpired(from, a);
      case "resumed":
      case "resync":
        return this._resumed(a, kind, b);
      case "resume_failed": {
        const error = new BridgeError(ClientErrorCode.RESUME_FAILED, `resume refused: ${b.error}`, b);
        return this._conns.get(a)?.end(4000, "resume failed", error);
      }
      case "promote":
        return this._promoted(a, b);
      case "rotate":
        return this.rotate();
      case "kicked":
        return this._stop("kicked", 1000, b, new BridgeError(ClientErrorCode.KICKED, b || "kicked by the backend"));
      case "pong":
        return this._conns.get(a)?.pong();
      case "ignore":
        return this._emit("unnumbered", a);
      default: // queued, pending, drop, hold, partial, invalid: nothing to do here
        return undefined;
    }
  }

  _settle(kind, id, frame) {
    const request = this._requests.get(id);
    if (!request) return;
    this._requests.delete(id);
    clearTimeout(request.timer);
    if (kind === "reply") request.resolve(frame);
    else request.reject(new BridgeError(typeof frame.error === "string" ? frame.error : BackendErrorCode.INTERNAL_ERROR, frame.message || frame.error, frame));
  }

  _resumed(name, kind, headSeq) {
    const conn = this._conns.get(name);
    conn?.clearResume();
    this.headSeq = headSeq;
    if (kind === "resync") this.lastSeq = this._core.lastSeq;
    if (this._core.primary !== name) return; // the rollover's connection: promoted next
    this.attempt = 0;
    this._refusedToken = null;
    this.protocol = conn?.protocol ?? this.protocol;
    if (this.state !== "open") this._setState("open");
    this._setResume(kind === "resync" ? "resync_required" : "resumed");
    if (kind === "resync") this._emit("resync", { headSeq, lastSeq: this.lastSeq });
    this._armRollover(conn);
    for (const waiter of this._waiters.splice(0)) waiter.resolve();
  }

  _promoted(name, replaced) {
    const old = this._conns.get(replaced);
    this._conns.delete(replaced);
    this._core.lost(replaced);
    old?.dispose(1000, "rollover");
    this._rolloverAttempt = 0;
    this._emit("rollover", { phase: "done", from: replaced, to: name });
  }

  _armRollover(conn) {
    if (!conn) return;
    const { maxDurationMs, rolloverMarginMs } = this.options;
    const delay = Math.max(0, conn.openedAt + maxDurationMs - rolloverMarginMs - Date.now());
    this._setTimer("rollover", delay, () => this.rotate());
  }

  /** The handler refused one of our requests (or resumes): the token's exp has passed and
   * it closes the connection. Back off, get a later token, reconnect, resend. */
  _tokenExpired(name, id) {
    const conn = this._conns.get(name);
    const error = new BridgeError(BackendErrorCode.TOKEN_EXPIRED, `the token expired (request ${id})`);
    if (typeof this.options.getToken !== "function") {
      this._stop(BackendErrorCode.TOKEN_EXPIRED, undefined, undefined, error);
      return;
    }
    if (conn) this._refusedToken = conn.token;
    conn?.end(1000, "token expired", error);
  }

  // -- helpers ----------------------------------------------------------------------------

  _setState(state, reason, code, delayMs) {
    const previous = this.state;
    this.state = state;
    this._emit("state", { state, previous, reason, code, attempt: this.attempt, delayMs });
  }

  _setResume(state) {
    if (this.resumeState === state) return;
    this.resumeState = state;
    this._emit("resume", { state, lastSeq: this.lastSeq, headSeq: this.headSeq });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setTimer(key, ms, callback) {
    this._clearTimer(key);
    this._timers[key] = setTimeout(() => {
      this._timers[key] = null;
      callback();
    }, ms);
  }

  _clearTimer(key) {
    if (this._timers[key] !== null) clearTimeout(this._timers[key]);
    this._timers[key] = null;
  }
}

