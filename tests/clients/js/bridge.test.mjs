// ws-bridge.js under node with a stand-in WebSocket: what a backend that does not resume
// makes the client do (each failed resume an attempt, then gave_up), and a getToken that
// fails on the first connect (retried, never taken for a refusal).
import { test } from "node:test";
import assert from "node:assert/strict";

import { WebSocketBridge } from "../../../clients/browser/ws-bridge.js";
import { fakeWebSocket } from "./fake-socket.mjs";

const FAST = { baseMs: 5, maxMs: 10, maxAttempts: 3 };

function closed(bridge) {
  return new Promise((resolve) => bridge.on("state", ({ state, reason }) => state === "closed" && resolve(reason)));
}

test("a resume refused by the handler ends its connection; after maxAttempts, gave_up", async () => {
  const sockets = [];
  // The handler's answer when the backend does not know `resume` (its error carries the id).
  const WebSocket = fakeWebSocket((socket, frame) => {
    socket.deliver({ type: "error", error: "backend_error", id: frame.id, requestId: "r" });
  }, sockets);
  const bridge = new WebSocketBridge("wss://example.test/prod", { token: "t", WebSocket, page: {}, backoff: FAST });
  const errors = [];
  bridge.on("error", (error) => errors.push(error.code));
  const ended = closed(bridge);
  await assert.rejects(bridge.connect(), { code: "gave_up" });
  assert.equal(await ended, "gave_up");
  assert.equal(sockets.length, 1 + FAST.maxAttempts);
  assert.deepEqual(errors, Array(1 + FAST.maxAttempts).fill("resume_failed"));
  assert.ok(sockets.every((socket) => socket.readyState === 3));
});

test("a getToken that fails on the first connect is retried, then gave_up; no socket", async () => {
  const sockets = [];
  const WebSocket = fakeWebSocket(() => {}, sockets);
  let asked = 0;
  const getToken = async () => {
    asked += 1;
    throw new Error("token service down");
  };
  const bridge = new WebSocketBridge("wss://example.test/prod", { getToken, WebSocket, page: {}, backoff: FAST });
  await assert.rejects(bridge.connect(), { code: "gave_up" });
  assert.equal(bridge.closeReason, "gave_up");
  assert.equal(asked, 1 + FAST.maxAttempts);
  assert.equal(sockets.length, 0);
});
