// The React hook (clients/browser/use-websocket-bridge.js) exposes the connection state,
// the resume state and the last delivered seq, and hands each stream message over once.
// Run with react resolved to react-hooks.mjs (node --import ./resolve-react.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";

import { mount } from "./react-hooks.mjs";
import { fakeWebSocket } from "./fake-socket.mjs";
import { useWebSocketBridge } from "../../../clients/browser/use-websocket-bridge.js";

const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

test("the hook exposes state, resume state and the last seq, and unmounting closes", async (t) => {
  let seq = 0;
  const sockets = [];
  const WebSocket = fakeWebSocket((socket, frame) => {
    if (frame.type === "resume") {
      const messages = [{ type: "output", line: "history", seq: ++seq }];
      socket.deliver({ type: "resumed", id: frame.id, headSeq: seq, messages, more: false });
    } else {
      socket.deliver({ type: "command_result", id: frame.id, seq: ++seq });
    }
  }, sockets);
  const delivered = [];
  const component = mount(useWebSocketBridge, "wss://example.test/prod", {
    token: "t",
    WebSocket,
    page: {},
    onMessage: ({ seq: at, message }) => delivered.push([at, message.type]),
  });
  t.after(() => component.unmount()); // whatever fails, no socket or timer outlives the test
  await settle(0);
  assert.equal(component.result.state, "connecting");
  await settle();
  assert.equal(component.result.state, "open");
  assert.equal(component.result.resumeState, "resumed");
  assert.equal(component.result.lastSeq, 1);
  const reply = await component.result.send({ type: "command", command: "ls" });
  await settle();
  assert.equal(reply.seq, 2);
  assert.equal(component.result.lastSeq, 2);
  assert.deepEqual(delivered, [[1, "output"], [2, "command_result"]]);
  component.unmount();
  await settle();
  assert.equal(sockets[0].readyState, 3);
  assert.equal(sockets.length, 1);
});
