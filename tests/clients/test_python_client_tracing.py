"""The Python client's traceparent (docs/design.md, "Tracing"): a fresh W3C traceparent on
each request, told by ``request()`` before the reply, kept when the app set a valid one, and
never on the protocol's own frames."""

from __future__ import annotations

import json

import pytest
from session_helpers import make_token, run, session

from session_standin import StandInServer
from ws_bridge_client import ClientError, SessionClient, is_valid_traceparent, new_traceparent

OWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def token(_reason: str) -> str:
    return make_token()


def test_each_request_carries_a_fresh_traceparent_told_before_the_reply(
    standin: StandInServer,
) -> None:
    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            assert rec.client is not None
            first = rec.client.request({"type": "command", "command": "ls"})
            second = rec.client.request({"type": "command", "command": "pwd"})
            own = rec.client.request({"type": "command", "command": "id", "traceparent": OWN})
            upper = rec.client.request({"type": "command", "traceparent": OWN.upper()})
            assert is_valid_traceparent(first.traceparent)
            assert first.traceparent[3:35] != second.traceparent[3:35]
            assert own.traceparent == OWN
            assert is_valid_traceparent(upper.traceparent)
            assert upper.traceparent != OWN.upper()
            replies = [await request for request in (first, second, own, upper)]
            assert [reply["id"] for reply in replies] == [first.id, second.id, own.id, upper.id]
            assert (await rec.client.send({"type": "command", "command": "x"}))["output"] == "x"

    run(scenario())
    sent = [json.loads(text) for _, text in standin.frames]
    commands = [frame for frame in sent if frame["type"] == "command"]
    assert len(commands) == 5
    assert all(is_valid_traceparent(frame["traceparent"]) for frame in commands)
    assert len({frame["traceparent"] for frame in commands}) == 5
    assert OWN in {frame["traceparent"] for frame in commands}
    assert all("traceparent" not in frame for frame in sent if frame["type"] == "resume")


def test_a_request_without_a_session_is_refused_at_once() -> None:
    client = SessionClient("ws://127.0.0.1:9/", token="t")
    with pytest.raises(ClientError, match="not connected"):
        client.request({"type": "command"})


def test_new_traceparent_draws_valid_distinct_values() -> None:
    drawn = {new_traceparent() for _ in range(50)}
    assert len(drawn) == 50
    assert all(is_valid_traceparent(value) and value.endswith("-01") for value in drawn)
    for bad in ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", OWN[:-1], "01" + OWN[2:], None):
        assert not is_valid_traceparent(bad)
