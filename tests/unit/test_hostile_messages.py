"""Hostile message bodies at the handler, beyond test_handler.py: JSON that Python parses
but that is not interchangeable JSON (escaped lone surrogates, numbers beyond the double
range), the exact nesting limit, and identity fields a client repeats or hides.

Every refused message gets a clear error code (never ``internal_error``, which means the
safety net caught an unexpected exception); whatever is forwarded is strict JSON in UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from bridge_fakes import FakeServer, Reply, free_port, load_event, untraced

from ws_bridge import aws

MESSAGE = "/api/ws/message"
CONNECTION_ID = "R0oXAdfD0kwCH6w="
REQUEST_ID = "Rk1cHHjtjoEFzWA="


@dataclass
class Bridge:
    module: ModuleType
    server: FakeServer
    logs: Callable[[], str]

    def send(self, body: str) -> dict[str, Any]:
        event = load_event("message")
        event["body"] = body
        response: dict[str, Any] = self.module.handler(event, None)
        return response


@pytest.fixture
def bridge(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Bridge:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()
    server.reply("POST", MESSAGE, Reply(200, {"type": "ok"}))
    module = load_handler(
        CONNECTIONS_TABLE="t", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="5"
    )
    capsys.readouterr()
    return Bridge(module, server, lambda: capsys.readouterr().out)


def strict_json(data: bytes) -> Any:
    """Parse as RFC 8259 JSON in UTF-8: no NaN/Infinity, no lone surrogates."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(data.decode("utf-8"), parse_constant=refuse)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # lone surrogates fail here
    return value


def assert_clear_error(bridge: Bridge, response: dict[str, Any], code: str) -> None:
    reply = untraced(response)
    assert reply == {
        "type": "error",
        "error": code,
        "message": bridge.module.ERRORS[code][1],
        "requestId": REQUEST_ID,
    }
    assert response["statusCode"] == bridge.module.ERRORS[code][0]
    logged = [json.loads(line) for line in bridge.logs().split("\n") if line.strip()]
    assert [line["message"] for line in logged] == ["message refused"]
    assert logged[0]["error"] == code


@pytest.mark.parametrize(
    "body",
    [
        '{"type": "command", "command": "\\ud800"}',
        '{"type": "command", "command": "tail \\udfff"}',
        '{"type": "command", "\\udbff": 1}',
        '{"type": "command", "args": ["ok", {"deep": "\\ud83e"}]}',
        '{"type": "command", "command": "\\uddea\\ud83e"}',  # a pair in the wrong order
    ],
    ids=["high", "low", "in-a-key", "nested", "reversed-pair"],
)
def test_escaped_lone_surrogates_get_invalid_json(bridge: Bridge, body: str) -> None:
    # Valid JSON grammar, but no UTF-8 text can carry the result: it must not be forwarded,
    # and the client must learn why (not "internal_error" from the safety net).
    response = bridge.send(body)
    assert_clear_error(bridge, response, "invalid_json")
    assert bridge.server.seen() == []


def test_escaped_surrogate_pairs_are_astral_characters(bridge: Bridge) -> None:
    response = bridge.send('{"type": "command", "command": "\\ud83e\\uddea \\u202e \\u0000"}')
    assert untraced(response) == {"type": "ok"}
    (call,) = bridge.server.seen()
    assert strict_json(call.body)["command"] == "\U0001f9ea \u202e \x00"


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.7976931348623159e308"])
def test_numbers_beyond_the_double_range_are_not_forwarded_as_non_json(
    bridge: Bridge, number: str
) -> None:
    # Python reads 1e400 as inf, which json.dumps writes as the non-JSON token Infinity.
    response = bridge.send(f'{{"type": "command", "n": {number}}}')
    for call in bridge.server.seen():
        strict_json(call.body)
    if not bridge.server.seen():
        assert_clear_error(bridge, response, "invalid_json")


def test_huge_integers_get_invalid_json(bridge: Bridge) -> None:
    response = bridge.send('{"type": "command", "n": ' + "9" * 5000 + "}")
    assert_clear_error(bridge, response, "invalid_json")


def nested(kind: str, depth: int) -> str:
    if kind == "object":
        return '{"a":' * (depth - 1) + '{"type":"command"}' + "}" * (depth - 1)
    return '{"type":"command","a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("kind", ["object", "array"])
def test_nesting_is_refused_beyond_64_levels_exactly(bridge: Bridge, kind: str) -> None:
    limit = bridge.module.MAX_JSON_DEPTH
    response = bridge.send(nested(kind, limit))
    assert untraced(response) == {"type": "ok"}
    assert len(bridge.server.seen()) == 1
    bridge.logs()
    assert_clear_error(bridge, bridge.send(nested(kind, limit + 1)), "invalid_json")
    assert len(bridge.server.seen()) == 1


def test_identity_fields_a_client_repeats_or_hides_never_override_the_context(
    bridge: Bridge,
) -> None:
    body = (
        '{"type": "command", "userId": "mallory", "userId": "eve",'
        ' "sessionId": "other", "connectionId": "spoofed=", "connectionId": "again=",'
        ' "data": {"userId": "mallory"}}'
    )
    bridge.send(body)
    (call,) = bridge.server.seen()
    forwarded = strict_json(call.body)
    assert (forwarded["connectionId"], forwarded["sessionId"], forwarded["userId"]) == (
        CONNECTION_ID,
        "sess-1",
        "user-1",
    )
    assert call.headers["X-Connection-Id"] == CONNECTION_ID
    assert forwarded["data"] == {"userId": "mallory"}  # content, not identity: passed through
    assert call.body.count(b'"userId"') == 2
