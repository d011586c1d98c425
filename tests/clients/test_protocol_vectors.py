"""The Python client's session core replays every example of sdk/vectors/protocol.json
(the browser client's core replays the same file: tests/clients/js)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from vectors import VECTORS_FILE, cases, expand, load

from ws_bridge_client import protocol
from ws_bridge_client.session_core import ClientError, SessionCore


def run_step(core: SessionCore, step: dict[str, Any]) -> list[Any]:
    if "open" in step:
        actions = core.open(step["open"])
    elif "lost" in step:
        actions = core.lost(step["lost"])
    elif "request" in step:
        try:
            _, actions = core.request(expand(step["request"]))
        except ClientError as err:
            actions = [("refuse", err.code)]
    elif "receive" in step:
        actions = core.receive(step["on"], expand(step["receive"]))
    elif "gap_timeout" in step:
        actions = core.gap_timeout()
    elif "forget" in step:
        core.forget(step["forget"])
        actions = []
    else:
        raise AssertionError(f"unknown step {step}")
    return [list(action) for action in actions]


def state_of(core: SessionCore) -> dict[str, Any]:
    return {
        "lastSeq": core.last_seq,
        "waiting": list(core.waiting),
        "queued": core.queued,
        "held": sorted(core.held),
    }


@pytest.mark.parametrize("case", cases(), ids=lambda case: case["name"][:60])
def test_vector(case: dict[str, Any]) -> None:
    core = SessionCore("c", max_queue=case.get("options", {}).get("maxQueue", 100))
    for number, step in enumerate(case["steps"], 1):
        actions = run_step(core, step)
        assert actions == expand(step["expect"]), f"step {number}: {step}"
        expected_state = step.get("state", {})
        state = state_of(core)
        assert {key: state[key] for key in expected_state} == expected_state, f"step {number}"


def test_the_constants_are_the_vectors_constants() -> None:
    constants = load()["constants"]
    assert constants["maxMessageBytes"] == protocol.MAX_MESSAGE_BYTES
    assert constants["maxFrameBytes"] == protocol.MAX_FRAME_BYTES
    assert protocol.ID_PATTERN.pattern == constants["idPattern"].strip("^$")
    assert constants["clientIdLength"] == protocol.CLIENT_ID_LENGTH
    assert list(protocol.HANDLER_ERROR_CODES) == constants["handlerErrorCodes"]
    assert list(protocol.CLIENT_ERROR_CODES) == constants["clientErrorCodes"]
    seconds = {
        "connect_timeout": "connectTimeout",
        "reply_timeout": "replyTimeout",
        "keepalive": "keepalive",
        "gap_timeout": "gapTimeout",
        "max_duration": "maxDuration",
        "rollover_margin": "rolloverMargin",
        "backoff_base": "backoffBase",
        "backoff_max": "backoffMax",
    }
    for name, key in seconds.items():
        assert getattr(protocol.DEFAULTS, name) * 1000 == constants["defaultsMs"][key], name
    assert constants["defaults"]["maxQueue"] == protocol.DEFAULTS.max_queue
    assert constants["defaults"]["maxAttempts"] == protocol.DEFAULTS.max_attempts


def test_the_handler_error_codes_are_the_contracts() -> None:
    """The codes the clients know are the handler's: both come from contract/contract.json."""
    source = json.loads((VECTORS_FILE.parents[2] / "contract" / "contract.json").read_text())
    assert list(protocol.HANDLER_ERROR_CODES) == list(source["errors"])
