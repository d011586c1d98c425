// The browser client's session core replays every example of sdk/vectors/protocol.json (the
// Python client's core replays the same file: tests/clients/test_protocol_vectors.py).
import { test } from "node:test";
import assert from "node:assert/strict";

import { SessionCore } from "../../../clients/browser/session-core.js";
import { BridgeError } from "../../../clients/browser/protocol.js";
import { expand, vectors } from "./vectors.mjs";

function runStep(core, step) {
  if ("open" in step) return core.open(step.open);
  if ("lost" in step) return core.lost(step.lost);
  if ("request" in step) {
    try {
      return core.request(expand(step.request)).actions;
    } catch (error) {
      if (error instanceof BridgeError) return [["refuse", error.code]];
      throw error;
    }
  }
  if ("receive" in step) return core.receive(step.on, expand(step.receive));
  if ("gap_timeout" in step) return core.gapTimeout();
  if ("forget" in step) {
    core.forget(step.forget);
    return [];
  }
  throw new Error(`unknown step ${JSON.stringify(step)}`);
}

function stateOf(core) {
  return {
    lastSeq: core.lastSeq,
    waiting: [...core.waiting.keys()],
    queued: core.queued,
    held: [...core.held.keys()].sort((a, b) => a - b),
  };
}

for (const vector of vectors.cases) {
  test(vector.name, () => {
    const core = new SessionCore("c", { maxQueue: vector.options?.maxQueue ?? 100 });
    vector.steps.forEach((step, index) => {
      const actions = runStep(core, step);
      assert.deepStrictEqual(actions, expand(step.expect), `step ${index + 1}: ${JSON.stringify(step).slice(0, 200)}`);
      const state = stateOf(core);
      for (const [key, value] of Object.entries(step.state ?? {})) {
        assert.deepStrictEqual(state[key], value, `step ${index + 1}: state ${key}`);
      }
    });
  });
}
