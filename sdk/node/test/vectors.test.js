"use strict";
// The Node verifier against the shared vectors (sdk/vectors/signing.json), which the Python
// SDK checks too: canonical strings, signatures, rotation, replay, stale and skewed
// timestamps, signed and unsigned headers.

const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const bridge = require("..");

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "vectors", "signing.json"), "utf8"));
const key = (name) => Buffer.from(vectors.keys[name], "utf8");

test("the constants are the vectors'", () => {
  assert.deepEqual([...bridge.TRUSTED_HEADERS], vectors.trusted_headers);
  assert.equal(bridge.MAX_CLOCK_SKEW_SECONDS, vectors.window_seconds);
  assert.equal(bridge.MIN_KEY_BYTES, vectors.min_key_bytes);
  const expected = new Set(vectors.verification.flatMap((c) => c.requests.map((r) => r.expect)));
  assert.deepEqual([...expected].sort(), ["ok", ...bridge.REASONS].sort());
});

for (const c of vectors.signing) {
  test(`signing: ${c.name}`, () => {
    const headers = {};
    for (const [name, value] of Object.entries(c.headers)) headers[name.toLowerCase()] = value;
    const body = Buffer.from(c.body, "utf8");
    const canonical = bridge.canonicalRequest(c.method, c.path, c.timestamp, c.nonce, headers, body);
    assert.equal(canonical.toString("latin1"), c.canonical);
    const mac = crypto.createHmac("sha256", key(c.key)).update(canonical).digest("hex");
    assert.equal(c.signature_headers["X-Bridge-Signature"], `v2=${mac}`);
    const signed = bridge.signRequest(key(c.key), c.method, c.path, body, {
      headers: c.headers,
      now: c.timestamp,
      nonce: c.nonce,
    });
    assert.deepEqual(signed, c.signature_headers);
  });
}

for (const c of vectors.verification) {
  test(`verification: ${c.name}`, async () => {
    const verifier = bridge.createVerifier({
      keys: c.keys.map(key),
      windowSeconds: vectors.window_seconds,
      now: () => c.now,
    });
    for (const request of c.requests) {
      let outcome = "ok";
      try {
        const signed = await verifier.verify({
          method: request.method,
          path: request.path,
          headers: request.headers,
          body: Buffer.from(request.body, "utf8"),
        });
        assert.deepEqual(signed.headers, request.signed_headers);
        assert.equal(signed.traceparent, request.traceparent ?? null);
      } catch (error) {
        if (!(error instanceof bridge.SignatureError)) throw error;
        outcome = error.reason;
      }
      assert.equal(outcome, request.expect, `${c.name}: expected ${request.expect}`);
    }
  });
}

test("every key source refuses empty, short and missing keys", async () => {
  const request = vectors.verification[0].requests[0];
  for (const bad of [[], [""], vectors.refused_keys, [Buffer.alloc(31)]]) {
    assert.throws(() => bridge.createVerifier({ keys: bad }), bridge.InvalidKeyError);
    const fromFunction = bridge.createVerifier({ keys: () => bad, now: () => vectors.verification[0].now });
    await assert.rejects(
      fromFunction.verify({ ...request, body: Buffer.from(request.body, "utf8") }),
      bridge.InvalidKeyError,
    );
  }
  assert.throws(() => bridge.signRequest("", "GET", "/", Buffer.alloc(0)), bridge.InvalidKeyError);
});

test("the memory store keeps a nonce until its timestamp plus the window", () => {
  const store = new bridge.MemoryReplayStore();
  assert.equal(store.add("a", 100, 400, 100), true);
  assert.equal(store.add("a", 100, 400, 400), false);
  assert.equal(store.add("b", 402, 702, 402), true);
  assert.equal(store.size, 1);
  assert.equal(store.add("a", 100, 400, 402), true);
});

test("a replay store shared through an async SET NX EX refuses the replay on another verifier", async () => {
  const shared = new Map();
  const set = async (k, ttl) => {
    assert.ok(ttl >= 1 && ttl <= 300);
    if (shared.has(k)) return false;
    shared.set(k, ttl);
    return true;
  };
  const now = () => 1_800_000_000;
  const one = bridge.createVerifier({ keys: [key("current")], replay: new bridge.RedisReplayStore(set), now });
  const two = bridge.createVerifier({ keys: [key("current")], replay: new bridge.RedisReplayStore(set), now });
  const body = Buffer.from("{}");
  const headers = bridge.signRequest(key("current"), "POST", "/api/ws/message", body, { now: now() });
  await one.verify({ method: "POST", path: "/api/ws/message", headers, body });
  await assert.rejects(two.verify({ method: "POST", path: "/api/ws/message", headers, body }), { reason: "replayed" });
});

test("a traceparent is exposed only when it is a valid W3C one", () => {
  const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  assert.equal(bridge.isValidTraceparent(valid), true);
  for (const bad of [
    valid.toUpperCase(),
    `01${valid.slice(2)}`,
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`,
    `${valid}-00`,
    undefined,
  ]) {
    assert.equal(bridge.isValidTraceparent(bad), false, String(bad));
  }
});
