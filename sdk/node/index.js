"use strict";
// Verifier of apigw-websocket-bridge's request signatures, version 2 (docs/design.md,
// "Request signing"). No dependencies: node:crypto only. The Python SDK
// (sdk/python, ws_bridge_backend.verifier) is the same verifier; both check themselves
// against sdk/vectors/signing.json.

const crypto = require("node:crypto");

// The header names, window, key size and refusal reasons come from the contract
// (contract/contract.json), generated into contract.js.
const {
  VERSION,
  TIMESTAMP_HEADER,
  NONCE_HEADER,
  SIGNED_HEADERS_HEADER,
  SIGNATURE_HEADER,
  TRUSTED_HEADERS,
  MAX_CLOCK_SKEW_SECONDS,
  MIN_KEY_BYTES,
  REASONS,
  TRACE_HEADER,
  TRACEPARENT_PATTERN,
} = require("./contract.js");

/** The request is not signed by a current key (answer 401); `reason` is safe to log. */
class SignatureError extends Error {
  constructor(reason) {
    super(reason);
    this.name = "SignatureError";
    this.reason = reason;
  }
}

/** A key (or list of keys) that cannot be used: a fault of the service, not a verdict. */
class InvalidKeyError extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidKeyError";
  }
}

function checkKeys(keys) {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new InvalidKeyError("at least one signing key is required, got none");
  }
  return keys.map((key) => {
    const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
    if (!Buffer.isBuffer(bytes)) throw new InvalidKeyError("a signing key must be a Buffer or a string");
    if (bytes.length < MIN_KEY_BYTES) {
      throw new InvalidKeyError(`a signing key must be at least ${MIN_KEY_BYTES} bytes, got ${bytes.length}`);
    }
    return bytes;
  });
}

const TRACEPARENT = new RegExp(TRACEPARENT_PATTERN);

/** True for a W3C traceparent (version 00, lowercase hex) whose ids are not all zeros. */
function isValidTraceparent(value) {
  return (
    typeof value === "string" &&
    TRACEPARENT.test(value) &&
    value.slice(3, 35) !== "0".repeat(32) &&
    value.slice(36, 52) !== "0".repeat(16)
  );
}

const sha256 = (data) => crypto.createHash("sha256").update(data).digest("hex");

/** The bytes that are signed; `headers`: lowercase names to values (ISO-8859-1). */
function canonicalRequest(method, path, timestamp, nonce, headers, body) {
  const names = Object.keys(headers).sort();
  const lines = [VERSION, method.toUpperCase(), path, String(timestamp), nonce, names.join(";")];
  for (const name of names) lines.push(`${name}:${sha256(Buffer.from(headers[name], "latin1"))}`);
  lines.push(sha256(body));
  return Buffer.from(lines.join("\n"), "latin1");
}

/** The four signature headers of one request (what the handler sends; for tests and tools). */
function signRequest(key, method, path, body, { headers = {}, now = Date.now() / 1000, nonce } = {}) {
  const [checked] = checkKeys([key]);
  const signed = {};
  for (const [name, value] of Object.entries(headers)) signed[name.toLowerCase()] = value;
  const timestamp = String(Math.floor(now));
  const n = nonce || crypto.randomBytes(16).toString("hex");
  const canonical = canonicalRequest(method, path, timestamp, n, signed, body);
  return {
    "X-Bridge-Timestamp": timestamp,
    "X-Bridge-Nonce": n,
    "X-Bridge-Signed-Headers": Object.keys(signed).sort().join(";"),
    "X-Bridge-Signature": `${VERSION}=${crypto.createHmac("sha256", checked).update(canonical).digest("hex")}`,
  };
}

/** Nonces of this process, each kept until its own timestamp + window (bounded by the rate). */
class MemoryReplayStore {
  constructor() {
    this.buckets = new Map(); // timestamp -> { expiresAt, nonces: Set }
    this.size = 0;
    this.nextPurge = -Infinity;
  }

  add(nonce, timestamp, expiresAt, now) {
    if (now >= this.nextPurge) {
      for (const [ts, bucket] of this.buckets) {
        if (bucket.expiresAt < now) {
          this.size -= bucket.nonces.size;
          this.buckets.delete(ts);
        }
      }
      this.nextPurge = now + 1;
    }
    let bucket = this.buckets.get(timestamp);
    if (!bucket) this.buckets.set(timestamp, (bucket = { expiresAt, nonces: new Set() }));
    if (bucket.nonces.has(nonce)) return false;
    bucket.nonces.add(nonce);
    this.size += 1;
    return true;
  }
}

/** A replay store on Redis, shared by every instance: `SET key 1 NX EX ttl`.
 * `client.set(key, value, "EX", ttl, "NX")` (ioredis) or an adapter of yours. */
class RedisReplayStore {
  constructor(set, { prefix = "ws-bridge:nonce:" } = {}) {
    this.set = set; // async (key, ttlSeconds) => boolean: true when the key was new
    this.prefix = prefix;
  }

  async add(nonce, timestamp, expiresAt, now) {
    return this.set(`${this.prefix}${nonce}`, Math.max(1, Math.ceil(expiresAt - now)));
  }
}

function lowered(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

/**
 * createVerifier({ keys, replay, windowSeconds, trusted, now }) -> { verify }
 * keys: an array of Buffers/strings, or a function returning one (or a Promise of one),
 * asked on every request and checked every time. verify({ method, path, headers, body })
 * resolves to { headers, timestamp, nonce, traceparent } (only the signed headers; traceparent:
 * the message's signed W3C traceparent, or null) or rejects with a SignatureError. `path`: the
 * raw path as received (req.url without the query string).
 */
function createVerifier({
  keys,
  replay = new MemoryReplayStore(),
  windowSeconds = MAX_CLOCK_SKEW_SECONDS,
  trusted = TRUSTED_HEADERS,
  now = () => Date.now() / 1000,
} = {}) {
  const keySource = typeof keys === "function" ? keys : (() => { const fixed = checkKeys(keys); return () => fixed; })();
  const trustedSet = new Set(trusted.map((name) => name.toLowerCase()));

  async function verify({ method, path, headers, body = Buffer.alloc(0) }) {
    const all = lowered(headers);
    const timestamp = all[TIMESTAMP_HEADER];
    const nonce = all[NONCE_HEADER];
    const signature = all[SIGNATURE_HEADER];
    const namesHeader = all[SIGNED_HEADERS_HEADER];
    if (timestamp === undefined || nonce === undefined || signature === undefined || namesHeader === undefined) {
      throw new SignatureError("missing_headers");
    }
    if (!/^[0-9]{1,12}$/.test(timestamp)) throw new SignatureError("bad_timestamp");
    const clock = now();
    const signedAt = Number(timestamp);
    if (Math.abs(clock - signedAt) > windowSeconds) throw new SignatureError("stale");
    if (!/^[0-9a-f]{32}$/.test(nonce)) throw new SignatureError("bad_nonce");
    const match = /^v2=([0-9a-f]{64})$/.exec(signature);
    if (!match) throw new SignatureError("bad_signature_format");
    const names = namesHeader === "" ? [] : namesHeader.split(";");
    const sortedUnique = [...new Set(names)].sort();
    if (names.join(";") !== sortedUnique.join(";") || !names.every((n) => /^[a-z0-9][a-z0-9-]*$/.test(n))) {
      throw new SignatureError("bad_signed_headers");
    }
    for (const name of trustedSet) {
      if (name in all && !names.includes(name)) throw new SignatureError("unsigned_header");
    }
    if (names.some((name) => !(name in all))) throw new SignatureError("missing_signed_header");
    const signed = {};
    for (const name of names) signed[name] = all[name];
    const canonical = canonicalRequest(method, path, timestamp, nonce, signed, Buffer.from(body));
    const given = Buffer.from(match[1]);
    let valid = false;
    for (const key of checkKeys(await keySource())) {
      // every key is tried: the time taken does not tell which one matched
      const expected = Buffer.from(crypto.createHmac("sha256", key).update(canonical).digest("hex"));
      valid = crypto.timingSafeEqual(expected, given) || valid;
    }
    if (!valid) throw new SignatureError("bad_signature");
    if (!(await replay.add(nonce, signedAt, signedAt + windowSeconds, clock))) throw new SignatureError("replayed");
    const traceparent = isValidTraceparent(signed[TRACE_HEADER]) ? signed[TRACE_HEADER] : null;
    return { headers: signed, timestamp: signedAt, nonce, traceparent };
  }

  return { verify };
}

module.exports = {
  VERSION,
  TRUSTED_HEADERS,
  MAX_CLOCK_SKEW_SECONDS,
  MIN_KEY_BYTES,
  REASONS,
  SignatureError,
  InvalidKeyError,
  MemoryReplayStore,
  RedisReplayStore,
  canonicalRequest,
  checkKeys,
  createVerifier,
  isValidTraceparent,
  signRequest,
};
