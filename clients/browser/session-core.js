// The session protocol's client side without I/O: what to send, deliver, drop, hold or
// resend for each event (docs/design.md, "Session protocol"). The Python client's
// ws_bridge_client/session_core.py is the same code; both replay sdk/vectors/protocol.json.
//
// SessionCore is fed events (a connection opened or was lost, a request, a frame received on
// a connection, the gap timer) and answers each with a list of actions, arrays whose first
// element names them:
//   ["send", conn, frame]      ["queued", id]         ["deliver", seq, message]
//   ["reply", id, message]     ["reject", id, frame]  ["pending", id]   ["token_expired", id]
//   ["drop", seq]  ["hold", seq]  ["partial", seq]  ["invalid", seq]
//   ["resumed", conn, headSeq]  ["resync", conn, headSeq]  ["resume_failed", conn, frame]
//   ["promote", conn, replaced]  ["rotate", conn]  ["kicked", conn, reason]  ["pong", conn]
//   ["ignore", frame]

import { BridgeError, ClientErrorCode, ID_PATTERN, MAX_MESSAGE_BYTES, isObject, utf8Size } from "./protocol.js";

const RESERVED_TYPES = new Set(["ping", "resume"]);
const MAX_PARTIAL_MESSAGES = 16;
const decoder = new TextDecoder("utf-8", { fatal: true });

function isSeq(value) {
  return Number.isInteger(value) && value >= 1;
}

function base64Bytes(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function concat(parts) {
  const whole = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

export class SessionCore {
  constructor(clientId, { maxQueue = 100, maxMessageBytes = MAX_MESSAGE_BYTES } = {}) {
    if (!ID_PATTERN.test(`${clientId}.1`)) {
      throw new TypeError("a client id is [A-Za-z0-9._:-], short enough for its request ids");
    }
    this.clientId = clientId;
    this.maxQueue = maxQueue;
    this.maxMessageBytes = maxMessageBytes;
    this.lastSeq = 0;
    this.held = new Map(); // seq -> frame, ahead of a gap
    this.waiting = new Map(); // id -> { frame, sentOn: Set<conn> }, oldest first
    this.primary = null;
    this.candidate = null;
    this._connections = new Map(); // conn -> { resumeId, ready }
    this._partial = new Map(); // message id -> { count, parts }
    this._counter = 0;
  }

  // -- state ------------------------------------------------------------------------------

  /** Whether requests go out at once (the primary connection has resumed). */
  get ready() {
    return this.primary !== null && this._connections.get(this.primary).ready;
  }

  get hasGap() {
    return this.held.size > 0;
  }

  get queued() {
    return [...this.waiting].filter(([, request]) => request.sentOn.size === 0).map(([id]) => id);
  }

  resuming(conn) {
    const connection = this._connections.get(conn);
    return connection !== undefined && connection.resumeId !== null;
  }

  nextId() {
    this._counter += 1;
    return `${this.clientId}.${this._counter}`;
  }

  // -- events -----------------------------------------------------------------------------

  /** Connection `conn` opened: the primary's replacement after a loss, or the candidate of
   * a make-before-break while the primary lives. It resumes first. */
  open(conn) {
    if (this._connections.has(conn)) throw new Error(`connection ${conn} is already open`);
    if (this.primary !== null && this.candidate !== null) {
      throw new Error("a primary and a candidate connection are open already");
    }
    this._connections.set(conn, { resumeId: null, ready: false });
    if (this.primary === null) this.primary = conn;
    else this.candidate = conn;
    return [this._resume(conn)];
  }

  /** Connection `conn` is gone; its requests wait for the next resumed connection. */
  lost(conn) {
    this._connections.delete(conn);
    for (const request of this.waiting.values()) request.sentOn.delete(conn);
    if (this.candidate === conn) this.candidate = null;
    if (this.primary === conn) {
      this.primary = this.candidate;
      this.candidate = null;
    }
    return [];
  }

  /** Take a request: returns { id, actions } (sent now, or queued). Throws TypeError for a
   * message that is not a request, BridgeError message_too_large or queue_full. */
  request(message) {
    if (!isObject(message)) throw new TypeError("a request is a JSON object");
    if (RESERVED_TYPES.has(message.type)) throw new TypeError(`"${message.type}" is the protocol's own type`);
    const generated = message.id === undefined || message.id === null;
    const id = generated ? `${this.clientId}.${this._counter + 1}` : message.id;
    if (!generated && (typeof id !== "string" || !ID_PATTERN.test(id))) {
      throw new TypeError("a request id is 1 to 64 characters of [A-Za-z0-9._:-]");
    }
    if (!generated && this.waiting.has(id)) throw new TypeError(`request ${id} is still waiting for its answer`);
    const frame = { ...message, id };
    const size = utf8Size(JSON.stringify(frame));
    if (size > this.maxMessageBytes) {
      throw new BridgeError(ClientErrorCode.MESSAGE_TOO_LARGE, `${size} bytes is over the ${this.maxMessageBytes}-byte limit`);
    }
    if (this.waiting.size >= this.maxQueue) {
      throw new BridgeError(ClientErrorCode.QUEUE_FULL, `${this.maxQueue} requests are waiting already`);
    }
    if (generated) this._counter += 1; // accepted: a refused request uses no id
    this.waiting.set(id, { frame, sentOn: new Set() });
    if (!this.ready) return { id, actions: [["queued", id]] };
    return { id, actions: [this._send(this.primary, id)] };
  }

  /** Stop waiting for request `id` (its reply timed out): never resent. */
  forget(id) {
    this.waiting.delete(id);
  }

  /** The gap is still open after gapTimeoutMs: resume on the primary. */
  gapTimeout() {
    if (!this.hasGap || !this.ready || this.resuming(this.primary)) return [];
    return [this._resume(this.primary)];
  }

  /** A frame (decoded JSON) arrived on `conn`. */
  receive(conn, frame) {
    if (!isObject(frame)) return [["ignore", frame]];
    if ("seq" in frame) return isSeq(frame.seq) ? this._stream(frame) : [["ignore", frame]];
    return this._unnumbered(conn, frame);
  }

  // -- the stream -------------------------------------------------------------------------

  _stream(frame) {
    const seq = frame.seq;
    if (seq <= this.lastSeq || this.held.has(seq)) {
      if (seq <= this.lastSeq && typeof frame.id === "string" && this.waiting.has(frame.id)) {
        return [this._answer(frame.id, frame)]; // a reply replayed after resync_required
      }
      return [["drop", seq]];
    }
    if (seq > this.lastSeq + 1) {
      this.held.set(seq, frame);
      return [["hold", seq]];
    }
    return [...this._deliver(seq, frame), ...this._drain()];
  }

  _drain() {
    const actions = [];
    while (this.held.has(this.lastSeq + 1)) {
      const seq = this.lastSeq + 1;
      const frame = this.held.get(seq);
      this.held.delete(seq);
      actions.push(...this._deliver(seq, frame));
    }
    return actions;
  }

  _deliver(seq, frame) {
    this.lastSeq = seq;
    let message = frame;
    if (frame.type === "chunk") {
      const joined = this._join(seq, frame);
      if (Array.isArray(joined)) return [joined];
      message = joined;
    }
    const actions = [["deliver", seq, message]];
    if (typeof message.id === "string" && this.waiting.has(message.id)) {
      actions.push(this._answer(message.id, message));
    }
    return actions;
  }

  /** A chunk: the whole message once its last part arrived, else a partial/invalid action. */
  _join(seq, frame) {
    const { chunk, data } = frame;
    if (!isObject(chunk) || typeof data !== "string") return ["invalid", seq];
    const { message: mid, index, count } = chunk;
    if (typeof mid !== "string" || !Number.isInteger(index) || !Number.isInteger(count)) return ["invalid", seq];
    const part = base64Bytes(data);
    if (part === undefined) return ["invalid", seq];
    const entry = this._partial.get(mid) || { count, parts: [] };
    if (count !== entry.count || index < 0 || index >= count || index !== entry.parts.length) {
      this._partial.delete(mid);
      return ["invalid", seq]; // a start lost to a resync, or out of order
    }
    entry.parts.push(part);
    if (entry.parts.length < count) {
      this._partial.set(mid, entry);
      while (this._partial.size > MAX_PARTIAL_MESSAGES) this._partial.delete(this._partial.keys().next().value);
      return ["partial", seq];
    }
    this._partial.delete(mid);
    try {
      const message = JSON.parse(decoder.decode(concat(entry.parts)));
      return isObject(message) ? message : ["invalid", seq];
    } catch {
      return ["invalid", seq];
    }
  }

  _answer(id, frame) {
    this.waiting.delete(id);
    return frame.type === "error" ? ["reject", id, frame] : ["reply", id, frame];
  }

  // -- unnumbered frames ------------------------------------------------------------------

  _unnumbered(conn, frame) {
    const { type, id } = frame;
    const connection = this._connections.get(conn);
    const ownResume = connection !== undefined && id != null && id === connection.resumeId;
    const request = typeof id === "string" ? this.waiting.get(id) : undefined;
    const inFlightHere = request !== undefined && request.sentOn.has(conn);
    if (type === "pong") return [["pong", conn]];
    if (type === "rotate") return [["rotate", conn]];
    if (type === "kicked") return [["kicked", conn, typeof frame.reason === "string" ? frame.reason : ""]];
    if ((type === "resumed" || type === "resync_required") && ownResume) return this._resumed(conn, frame);
    if (type === "pending" && inFlightHere) return [["pending", id]];
    if (type === "error" && (ownResume || inFlightHere)) {
      if (frame.error === "token_expired") return [["token_expired", id]];
      if (ownResume) {
        connection.resumeId = null;
        return [["resume_failed", conn, frame]];
      }
      return [this._answer(id, frame)];
    }
    return [["ignore", frame]];
  }

  _resumed(conn, frame) {
    const connection = this._connections.get(conn);
    const head = Number.isInteger(frame.headSeq) && frame.headSeq >= 0 ? frame.headSeq : this.lastSeq;
    const actions = [];
    if (frame.type === "resync_required") {
      actions.push(["resync", conn, head]);
      // Below lastSeq, the stream was reset (its store lost it): everything held belongs to
      // the old numbering. Above, the gap is older than the buffer: skip to headSeq.
      const reset = head < this.lastSeq;
      if (head !== this.lastSeq) {
        this.lastSeq = head;
        this._partial.clear();
      }
      for (const seq of [...this.held.keys()].sort((a, b) => a - b)) {
        if (seq > this.lastSeq && !reset) continue;
        this.held.delete(seq);
        actions.push(["drop", seq]);
      }
      actions.push(...this._drain());
    } else {
      for (const message of Array.isArray(frame.messages) ? frame.messages : []) {
        actions.push(...this.receive(conn, message));
      }
      if (frame.more === true) {
        actions.push(this._resume(conn));
        return actions;
      }
      actions.push(["resumed", conn, head]);
    }
    connection.resumeId = null;
    connection.ready = true;
    return [...actions, ...this._promote(conn)];
  }

  /** `conn` resumed: it becomes the primary if it was the candidate, and gets every waiting
   * request not sent on it yet, in first-sent order (the queue last). */
  _promote(conn) {
    const actions = [];
    if (this.candidate === conn) {
      actions.push(["promote", conn, this.primary]);
      this.primary = conn;
      this.candidate = null;
    }
    if (this.primary !== conn) return actions;
    for (const [id, request] of this.waiting) {
      if (!request.sentOn.has(conn)) actions.push(this._send(conn, id));
    }
    return actions;
  }

  _send(conn, id) {
    const request = this.waiting.get(id);
    request.sentOn.add(conn);
    return ["send", conn, request.frame];
  }

  _resume(conn) {
    const id = this.nextId();
    this._connections.get(conn).resumeId = id;
    return ["send", conn, { type: "resume", id, lastSeq: this.lastSeq }];
  }
}
