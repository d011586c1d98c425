// The browser client's traceparent (docs/design.md, "Tracing"): a fresh W3C traceparent on
// each request, told by request() before the reply, kept when the app set a valid one, kept
// across a resend, and never on the protocol's own frames.
import { test } from "node:test";
import assert from "node:assert/strict";

import { WebSocketBridge, isValidTraceparent, newTraceparent } from "../../../clients/browser/ws-bridge.js";
import { fakeWebSocket } from "./fake-socket.mjs";

const OWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function backend(sent) {
  return fakeWebSocket((socket, frame) => {
    sent.push(frame);
    if (frame.type === "resume") socket.deliver({ type: "resumed", id: frame.id, headSeq: 0, messages: [], more: false });
    else socket.deliver({ seq: sent.filter((f) => f.type !== "resume").length, id: frame.id, type: "ok", traceparent: frame.traceparent });
  });
}

test("each request carries a fresh traceparent, told before the reply", async () => {
  const sent = [];
  const bridge = new WebSocketBridge("wss://example.test/prod", { token: "t", WebSocket: backend(sent), page: {} });
  await bridge.connect();
  const first = bridge.request({ type: "command" });
  const second = bridge.request({ type: "command" });
  assert.ok(isValidTraceparent(first.traceparent));
  assert.notEqual(first.traceparent.slice(3, 35), second.traceparent.slice(3, 35));
  assert.equal((await first.reply).traceparent, first.traceparent);
  await second.reply;
  const requests = sent.filter((frame) => frame.type === "command");
  assert.deepEqual(requests.map((frame) => [frame.id, frame.traceparent]), [
    [first.id, first.traceparent],
    [second.id, second.traceparent],
  ]);
  assert.ok(sent.filter((frame) => frame.type === "resume").every((frame) => !("traceparent" in frame)));
  const own = bridge.request({ type: "command", traceparent: OWN });
  assert.equal(own.traceparent, OWN);
  await own.reply;
  const invalid = bridge.request({ type: "command", traceparent: OWN.toUpperCase() });
  assert.ok(isValidTraceparent(invalid.traceparent));
  await invalid.reply;
  assert.equal((await bridge.send({ type: "command" })).type, "ok");
  bridge.close();
});

test("a request refused at once still tells its traceparent, and no id", async () => {
  const bridge = new WebSocketBridge("wss://example.test/prod", { token: "t", WebSocket: backend([]), page: {} });
  const refused = bridge.request({ type: "command" });
  assert.equal(refused.id, undefined);
  assert.ok(isValidTraceparent(refused.traceparent));
  await assert.rejects(refused.reply, { code: "closed" });
});

test("newTraceparent draws valid, distinct values; isValidTraceparent refuses the rest", () => {
  const drawn = new Set(Array.from({ length: 50 }, () => newTraceparent()));
  assert.equal(drawn.size, 50);
  assert.ok([...drawn].every((value) => isValidTraceparent(value) && value.endsWith("-01")));
  for (const bad of [`00-${"0".repeat(32)}-00f067aa0ba902b7-01`, `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`, `01${OWN.slice(2)}`, `${OWN} `, 7]) {
    assert.equal(isValidTraceparent(bad), false, String(bad));
  }
});

test("a request resent after a reconnect keeps its traceparent", async () => {
  const sent = [];
  let dropped = false;
  const WebSocket = fakeWebSocket((socket, frame) => {
    sent.push(frame);
    if (frame.type === "resume") {
      socket.deliver({ type: "resumed", id: frame.id, headSeq: 0, messages: [], more: false });
    } else if (!dropped) {
      dropped = true; // the first send is lost with its connection
      socket.close(1006, "");
    } else {
      socket.deliver({ seq: 1, id: frame.id, type: "ok" });
    }
  });
  const backoff = { baseMs: 5, maxMs: 10, maxAttempts: 3 };
  const bridge = new WebSocketBridge("wss://example.test/prod", { token: "t", WebSocket, page: {}, backoff });
  await bridge.connect();
  const request = bridge.request({ type: "command" });
  await request.reply;
  const commands = sent.filter((frame) => frame.type === "command");
  assert.equal(commands.length, 2);
  assert.deepEqual(commands.map((frame) => frame.traceparent), [request.traceparent, request.traceparent]);
  bridge.close();
});
