"""The handler's error replies name the request they refuse: its ``id``, when the client's
message had a valid one (the session protocol's request ids), and never a ``seq`` (the
handler's frames are not part of any session's stream). A client then knows which request
failed, and a pushed error (without its id) never makes it resend anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from bridge_fakes import PATIENT_TIMEOUT, FakeServer, Reply, backend_timeout, load_event

from ws_bridge import backend_client
from ws_bridge.client_message import REQUEST_ID, message_id
from ws_bridge_backend.frames import ID_PATTERN

MESSAGE = "/api/ws/message"


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType], server: FakeServer) -> ModuleType:
    return load_handler(
        CONNECTIONS_TABLE="unused", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS=PATIENT_TIMEOUT
    )


def send(handler: ModuleType, body: Any, *, raw: bool = False) -> dict[str, Any]:
    event = load_event("message")
    event["body"] = body if raw else json.dumps(body)
    reply: dict[str, Any] = json.loads(handler.handler(event, None)["body"])
    assert "seq" not in reply
    return reply


@pytest.mark.parametrize(
    ("backend", "code"),
    [
        (Reply(500, {"error": "boom"}), "backend_error"),
        (Reply(200, b"not json"), "backend_invalid_reply"),
        (Reply(200, {"late": 1}, delay=2.5), "backend_timeout"),
        (Reply(200, drop=True), "backend_unavailable"),
    ],
    ids=["5xx", "invalid-reply", "timeout", "dropped"],
)
def test_a_failed_request_gets_its_error_with_its_id(
    load_handler: Callable[..., ModuleType], server: FakeServer, backend: Reply, code: str
) -> None:
    handler = load_handler(
        CONNECTIONS_TABLE="unused",
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS=backend_timeout(backend),
    )
    server.reply("POST", MESSAGE, backend)
    reply = send(handler, {"type": "command", "id": "Ab3dEf9hIj2L.17"})
    assert (reply["error"], reply["id"]) == (code, "Ab3dEf9hIj2L.17")


def test_an_invalid_id_is_never_echoed(handler: ModuleType, server: FakeServer) -> None:
    server.reply("POST", MESSAGE, Reply(500, {"error": "boom"}))
    for rid in ("", "a b", "x" * 65, "é", 17, ["c.1"], {"id": "c.1"}, None):
        reply = send(handler, {"type": "command", "id": rid})
        assert reply["error"] == "backend_error"
        assert "id" not in reply
    assert "id" in send(handler, {"type": "command", "id": "x" * 64})


def test_a_message_that_is_no_object_gets_no_id(handler: ModuleType) -> None:
    assert "id" not in send(handler, '{"type":"command","id":"c.1"', raw=True)
    assert "id" not in send(handler, '["c.1"]', raw=True)
    # A lone surrogate: parsed, but not sendable; its id is still the client's.
    reply = send(handler, '{"type":"command","id":"c.2","text":"\\ud800"}', raw=True)
    assert (reply["error"], reply["id"]) == ("invalid_json", "c.2")


def test_an_internal_error_names_the_request_too(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(backend_client, "forward_body", broken)
    reply = send(handler, {"type": "command", "id": "c.3"})
    assert (reply["error"], reply["id"]) == ("internal_error", "c.3")


def test_a_resume_refused_by_the_backend_is_named_so_the_client_fails_that_connection(
    handler: ModuleType, server: FakeServer
) -> None:
    server.reply("POST", MESSAGE, Reply(503, {"error": "session_store_unavailable"}))
    reply = send(handler, {"type": "resume", "id": "c.4", "lastSeq": 12})
    assert (reply["error"], reply["id"]) == ("backend_error", "c.4")


def test_the_handler_and_the_sdk_read_request_ids_alike() -> None:
    assert REQUEST_ID.pattern == ID_PATTERN.pattern  # both the contract's
    assert message_id({"id": "c.1"}) == "c.1"
    assert message_id({"id": "c.1\n"}) is None
    assert message_id("invalid_json") is None
