// The browser client's fixed facts against sdk/vectors/protocol.json, the backoff's spread,
// reading a token's exp, and the client ids.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  BackendErrorCode,
  CLIENT_ID_LENGTH,
  ClientErrorCode,
  DEFAULTS,
  ID_PATTERN,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  backoffDelay,
  isLaterToken,
  newClientId,
  tokenExp,
} from "../../../clients/browser/protocol.js";
import { vectors } from "./vectors.mjs";

const { constants } = vectors;

test("the constants are the vectors' constants", () => {
  assert.equal(MAX_MESSAGE_BYTES, constants.maxMessageBytes);
  assert.equal(MAX_FRAME_BYTES, constants.maxFrameBytes);
  assert.equal(ID_PATTERN.source, constants.idPattern);
  assert.equal(CLIENT_ID_LENGTH, constants.clientIdLength);
  assert.deepEqual(Object.values(BackendErrorCode), constants.handlerErrorCodes);
  assert.deepEqual(Object.values(ClientErrorCode), constants.clientErrorCodes);
  const ms = constants.defaultsMs;
  assert.equal(DEFAULTS.connectTimeoutMs, ms.connectTimeout);
  assert.equal(DEFAULTS.replyTimeoutMs, ms.replyTimeout);
  assert.equal(DEFAULTS.keepaliveMs, ms.keepalive);
  assert.equal(DEFAULTS.gapTimeoutMs, ms.gapTimeout);
  assert.equal(DEFAULTS.maxDurationMs, ms.maxDuration);
  assert.equal(DEFAULTS.rolloverMarginMs, ms.rolloverMargin);
  assert.equal(DEFAULTS.backoff.baseMs, ms.backoffBase);
  assert.equal(DEFAULTS.backoff.maxMs, ms.backoffMax);
  assert.equal(DEFAULTS.maxQueue, constants.defaults.maxQueue);
  assert.equal(DEFAULTS.backoff.maxAttempts, constants.defaults.maxAttempts);
});

test("each backoff delay lies in [c/2, c] and the jitter spreads it across that range", () => {
  const backoff = { baseMs: 1000, maxMs: 8000 };
  for (const [attempt, ceiling] of [[1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 8000]]) {
    const samples = Array.from({ length: 400 }, () => backoffDelay(attempt, backoff));
    assert.ok(samples.every((s) => s >= ceiling / 2 && s <= ceiling), `attempt ${attempt}`);
    // Without jitter every sample would be the same: the spread is most of the range.
    assert.ok(Math.max(...samples) - Math.min(...samples) > ceiling * 0.4, `attempt ${attempt} spread`);
  }
  assert.equal(backoffDelay(3, backoff, () => 0), 2000);
  assert.equal(backoffDelay(3, backoff, () => 0.5), 3000);
});

function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

test("a token's exp is read from its payload without verification", () => {
  assert.equal(tokenExp(jwt({ sub: "alice", exp: 1_900_000_000 })), 1_900_000_000);
  assert.equal(tokenExp(jwt({ sub: "alice", name: "\u00e9\u00e8" , exp: 7 })), 7);
  assert.equal(tokenExp(jwt({ sub: "alice" })), undefined);
  assert.equal(tokenExp(jwt({ exp: "1900000000" })), undefined);
  assert.equal(tokenExp("opaque-token"), undefined);
  assert.equal(tokenExp("a.%%%.c"), undefined);
});

test("after token_expired only a later token replaces the refused one", () => {
  const refused = jwt({ sub: "alice", exp: 100 });
  assert.equal(isLaterToken(refused, refused), false);
  assert.equal(isLaterToken(jwt({ sub: "alice", exp: 100, jti: "other" }), refused), false);
  assert.equal(isLaterToken(jwt({ sub: "alice", exp: 99 }), refused), false);
  assert.equal(isLaterToken(jwt({ sub: "alice", exp: 101 }), refused), true);
  assert.equal(isLaterToken("opaque-2", "opaque-1"), true);
  assert.equal(isLaterToken("opaque-1", "opaque-1"), false);
});

test("client ids are 12 random characters, fit for request ids", () => {
  const ids = new Set(Array.from({ length: 200 }, () => newClientId()));
  assert.equal(ids.size, 200);
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9]{12}$/);
    assert.match(`${id}.123456`, ID_PATTERN);
  }
});
