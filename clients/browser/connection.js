// One WebSocket of a session: where the token goes, the connect timeout, the heartbeat
// (a ping after keepaliveMs without a frame received; no pong within replyTimeoutMs and the
// connection is dead), and its end, reported once. ws-bridge.js decides what the frames mean.

import { BridgeError, ClientErrorCode, withQuery } from "./protocol.js";

const PING = JSON.stringify({ type: "ping" });

export class Connection {
  /**
   * @param {object} settings name, url, token, auth ("subprotocol" | "query"), query,
   *   WebSocket, connectTimeoutMs, keepaliveMs, replyTimeoutMs
   * @param {object} handlers onOpen(conn), onFrame(conn, frame), onEnd(conn, {code, reason,
   *   wasOpen, cause}): called once, unless the connection was disposed of
   */
  constructor(settings, handlers) {
    this.name = settings.name;
    this.token = settings.token;
    this.settings = settings;
    this.handlers = handlers;
    this.socket = null;
    this.opened = false;
    this.openedAt = 0;
    this.protocol = "";
    this.ended = false;
    this._pings = []; // { resolve, reject, timer }, oldest first
    this._timers = new Set();
    this._keepalive = null;
    this._resumeTimer = null;
  }

  /** Start the handshake; throws BridgeError "refused" when the socket cannot be built. */
  open() {
    const { url, token, auth, query, WebSocket, connectTimeoutMs } = this.settings;
    const target = withQuery(url, auth === "query" ? { ...query, token } : query);
    try {
      this.socket = auth === "query" ? new WebSocket(target) : new WebSocket(target, ["bearer", token]);
    } catch (error) {
      throw new BridgeError(ClientErrorCode.REFUSED, `cannot open: ${error}`);
    }
    const connectTimer = this._after(connectTimeoutMs, () =>
      this.end(1006, "connect timeout", new BridgeError(ClientErrorCode.CONNECT_TIMEOUT, `not open after ${connectTimeoutMs} ms`)),
    );
    this.socket.onopen = () => {
      this._clear(connectTimer);
      this.opened = true;
      this.openedAt = Date.now();
      this.protocol = this.socket.protocol;
      this._armKeepalive();
      this.handlers.onOpen(this);
    };
    this.socket.onmessage = (event) => {
      this._armKeepalive();
      let frame = event.data;
      if (typeof frame === "string") {
        try {
          frame = JSON.parse(frame);
        } catch {
          // not JSON: the session ignores it
        }
      }
      this.handlers.onFrame(this, frame);
    };
    this.socket.onclose = (event) => this.end(event.code, event.reason);
  }

  send(frame) {
    if (this.ended || !this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    return true;
  }

  /** Ping; resolves with the pong. No pong within replyTimeoutMs: the connection is dead. */
  ping() {
    return new Promise((resolve, reject) => {
      if (!this.send(PING)) {
        reject(new BridgeError(ClientErrorCode.CONNECTION_LOST, "the connection is not open"));
        return;
      }
      const { replyTimeoutMs } = this.settings;
      const entry = { resolve, reject, timer: null };
      entry.timer = this._after(replyTimeoutMs, () => {
        reject(new BridgeError(ClientErrorCode.REPLY_TIMEOUT, `no pong after ${replyTimeoutMs} ms`));
        this.end(4000, "no pong", new BridgeError(ClientErrorCode.CONNECTION_LOST, "no pong: the connection is dead"));
      });
      this._pings.push(entry);
    });
  }

  /** A pong arrived: it answers the oldest ping. */
  pong(frame) {
    const entry = this._pings.shift();
    if (!entry) return;
    this._clear(entry.timer);
    entry.resolve(frame);
  }

  /** Fail this connection when its resume is not answered within `ms`. */
  armResume(ms, error) {
    this._clear(this._resumeTimer);
    this._resumeTimer = this._after(ms, () => this.end(4000, "resume unanswered", error));
  }

  clearResume() {
    this._clear(this._resumeTimer);
    this._resumeTimer = null;
  }

  /** End it: detach, close the socket (no wait for a close handshake that may never come),
   * report once through onEnd. */
  end(code, reason, cause = undefined) {
    if (this.ended) return;
    this._release(code, reason);
    this.handlers.onEnd(this, { code, reason, wasOpen: this.opened, cause });
  }

  /** End it without a report (the session closes it on purpose: promoted past, or stopped). */
  dispose(code = 1000, reason = "") {
    if (!this.ended) this._release(code, reason);
  }

  _release(code, reason) {
    this.ended = true;
    const socket = this.socket;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      if (socket.readyState === 0 || socket.readyState === 1) {
        try {
          socket.close(code >= 3000 && code < 5000 ? code : 1000, reason.slice(0, 120));
        } catch {
          // already closing
        }
      }
    }
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    const lost = new BridgeError(ClientErrorCode.CONNECTION_LOST, `connection closed (${code}) before the pong`);
    for (const entry of this._pings.splice(0)) entry.reject(lost);
  }

  _armKeepalive() {
    this._clear(this._keepalive);
    const { keepaliveMs } = this.settings;
    if (!keepaliveMs || keepaliveMs <= 0 || this.ended) return;
    this._keepalive = this._after(keepaliveMs, () => {
      this.ping().catch(() => {}); // a missing pong ends the connection itself
      this._armKeepalive();
    });
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
