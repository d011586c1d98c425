"""The connection handler entry point, with moto's DynamoDB and a real backend server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import pytest
from bridge_fakes import (
    PATIENT_TIMEOUT,
    REGION,
    SHORT_TIMEOUT,
    TABLE,
    FakeServer,
    Reply,
    backend_timeout,
    free_port,
    hs_token,
    load_event,
    scan,
    set_header,
    set_query,
    untraced,
)
from trickle_server import Phase, TrickleServer

from ws_bridge import aws, backend_client, connections_table
from ws_bridge.backend_client import BackendResult, Outcome

VALIDATE = "/api/labs/session/sess-1/validate"
MESSAGE = "/api/ws/message"
DISCONNECT = "/api/ws/disconnect"
CONNECTION_ID = "R0oXAdfD0kwCH6w="


@dataclass
class LambdaContext:
    """The one part of Lambda's context object the handler reads."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Bridge:
    module: ModuleType
    server: FakeServer

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, context)
        return result


@pytest.fixture
def load(
    load_handler: Callable[..., ModuleType], server: FakeServer, table: str
) -> Callable[..., Bridge]:
    def make(**env: str) -> Bridge:
        settings = {
            "CONNECTIONS_TABLE": table,
            "BACKEND_URL": server.url,
            "BACKEND_TIMEOUT_SECONDS": PATIENT_TIMEOUT,
            "DISCONNECT_TIMEOUT_SECONDS": PATIENT_TIMEOUT,
            **env,
        }
        return Bridge(load_handler(**settings), server)

    return make


@pytest.fixture
def bridge(load: Callable[..., Bridge]) -> Bridge:
    return load()


@pytest.fixture
def load_without_aws(
    load_handler: Callable[..., ModuleType], server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Bridge]:
    """For message routes, which need no AWS service: every AWS endpoint points at a closed
    port, so an accidental DynamoDB call would fail the test instead of passing quietly."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()

    def make(**env: str) -> Bridge:
        settings = {
            "CONNECTIONS_TABLE": TABLE,
            "BACKEND_URL": server.url,
            "BACKEND_TIMEOUT_SECONDS": PATIENT_TIMEOUT,
            **env,
        }
        return Bridge(load_handler(**settings), server)

    return make


@pytest.fixture
def messages(load_without_aws: Callable[..., Bridge]) -> Bridge:
    return load_without_aws()


def connect_event(token: str | None = None, **authorizer: str) -> dict[str, Any]:
    event = load_event("connect")
    set_query(event, token=token or hs_token())
    event["requestContext"]["authorizer"].update(authorizer)
    return event


def message_event(body: Any, *, raw: bool = False, name: str = "message") -> dict[str, Any]:
    event = load_event(name)
    event["body"] = body if raw else json.dumps(body)
    return event


def error_of(response: dict[str, Any], code: str, status: int) -> dict[str, Any]:
    assert response["statusCode"] == status
    reply: dict[str, Any] = untraced(response)
    assert reply == {
        "type": "error",
        "error": code,
        "message": reply["message"],
        "requestId": "Rk1cHHjtjoEFzWA=",
    }
    assert isinstance(reply["message"], str)
    assert reply["message"]
    traced: dict[str, Any] = json.loads(response["body"])
    return traced


# ---------------------------------------------------------------------------- $connect


def test_connect_validates_then_stores(bridge: Bridge) -> None:
    bridge.server.reply("POST", VALIDATE, Reply(200, {"valid": True}))
    token = hs_token()
    before = int(time.time())
    response = bridge(connect_event(token))
    assert response == {"statusCode": 200, "body": ""}
    (call,) = bridge.server.seen()
    assert (call.method, call.path) == ("POST", VALIDATE)
    assert call.headers["Authorization"] == f"Bearer {token}"
    record = scan()[CONNECTION_ID]
    assert record == {
        "connectionId": CONNECTION_ID,
        "sessionId": "sess-1",
        "userId": "user-1",
        "connectedAt": 1705054530123,
        "expiresAt": record["expiresAt"],
    }
    assert before + 7200 <= record["expiresAt"] <= int(time.time()) + 7200


def test_connect_record_lives_as_long_as_api_gateway_keeps_a_connection(
    load: Callable[..., Bridge],
) -> None:
    # The old setting is gone: a short TTL would silently stop pushes to live connections.
    bridge = load(CONNECTION_TTL_SECONDS="600")
    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    bridge(connect_event())
    expires = scan()[CONNECTION_ID]["expiresAt"]
    assert abs(expires - (time.time() + 7200)) < 5


def test_connect_echoes_the_bearer_subprotocol(bridge: Bridge) -> None:
    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    token = hs_token()
    event = load_event("connect")
    set_header(event, "Sec-WebSocket-Protocol", f"bearer, {token}")
    response = bridge(event)
    assert response == {
        "statusCode": 200,
        "body": "",
        "headers": {"Sec-WebSocket-Protocol": "bearer"},
    }
    assert bridge.server.seen()[0].headers["Authorization"] == f"Bearer {token}"


@pytest.mark.parametrize("offered", ["Bearer", "BEARER", "bearer"])
def test_connect_echoes_the_subprotocol_exactly_as_offered(bridge: Bridge, offered: str) -> None:
    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    event = set_header(load_event("connect"), "Sec-WebSocket-Protocol", f"{offered}, {hs_token()}")
    assert bridge(event)["headers"] == {"Sec-WebSocket-Protocol": offered}


def test_connect_with_the_authorization_header(bridge: Bridge) -> None:
    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    token = hs_token()
    response = bridge(set_header(load_event("connect"), "Authorization", f"Bearer {token}"))
    assert response == {"statusCode": 200, "body": ""}
    assert bridge.server.seen()[0].headers["Authorization"] == f"Bearer {token}"


def test_connect_without_session_is_400_and_calls_nothing(bridge: Bridge) -> None:
    response = bridge(connect_event(sessionId="", sessionSource=""))
    assert response["statusCode"] == 400
    assert bridge.server.seen() == []
    assert scan() == {}


def test_connect_without_authorizer_identity_is_401(bridge: Bridge) -> None:
    event = connect_event()
    del event["requestContext"]["authorizer"]
    assert bridge(event)["statusCode"] == 401
    assert bridge.server.seen() == []
    assert scan() == {}


def test_connect_without_token_is_401(bridge: Bridge) -> None:
    assert bridge(load_event("connect"))["statusCode"] == 401
    assert scan() == {}


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(401, {"error": "bad_request_signature"}), 502),  # a fault of ours, not the token
        (Reply(403, {"error": "not yours"}), 403),
        (Reply(404, {"error": "no such session"}), 400),
        (Reply(409, {}), 400),
        (Reply(422, "bad"), 400),
        (Reply(500, {}), 502),
        (Reply(503, "down"), 502),
        (Reply(302, "", headers={"Location": "/elsewhere"}), 502),
        (Reply(200, {}, delay=1.5), 502),
        (Reply(drop=True), 502),
    ],
    ids=["401", "403", "404", "409", "422", "500", "503", "302", "slow", "dropped"],
)
def test_connect_rejections_store_nothing(
    load: Callable[..., Bridge], reply: Reply, status: int
) -> None:
    bridge = load(BACKEND_TIMEOUT_SECONDS=backend_timeout(reply))
    bridge.server.reply("POST", VALIDATE, reply)
    started = time.monotonic()
    response = bridge(connect_event())
    assert response["statusCode"] == status
    if reply.delay:
        assert time.monotonic() - started < 1.2  # SHORT_TIMEOUT: 0.5 s
    assert scan() == {}


def test_connect_with_backend_down_fails_closed(load: Callable[..., Bridge]) -> None:
    bridge = load(BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    assert bridge(connect_event())["statusCode"] == 502
    assert scan() == {}


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (None, 200),
        (Reply(500, {}), 200),
        (Reply(200, {}, delay=1.5), 200),
        (Reply(401, {}), 502),
        (Reply(404, {}), 400),
    ],
    ids=["down", "500", "slow", "401-still-refused", "404-still-refused"],
)
def test_fail_open_accepts_only_when_the_backend_cannot_answer(
    load: Callable[..., Bridge], server: FakeServer, reply: Reply | None, status: int
) -> None:
    url = f"http://127.0.0.1:{free_port()}" if reply is None else server.url
    bridge = load(
        BACKEND_FAIL_OPEN="true", BACKEND_URL=url, BACKEND_TIMEOUT_SECONDS=backend_timeout(reply)
    )
    if reply is not None:
        server.reply("POST", VALIDATE, reply)
    assert bridge(connect_event())["statusCode"] == status
    assert (CONNECTION_ID in scan()) is (status == 200)


@pytest.mark.parametrize(
    ("query", "source", "status"),
    [
        (None, "token", 200),
        ("sess-1", "token", 200),  # the authorizer checked that the query repeats the claim
        ("someone-elses-session", "query", 502),
        (None, "", 502),
        (None, "forged", 502),
    ],
    ids=["token", "token-and-query", "query", "no-source", "unknown-source"],
)
def test_fail_open_trusts_only_a_session_named_by_the_token(
    load: Callable[..., Bridge], query: str | None, source: str, status: int
) -> None:
    # A token without a session claim plus ?sessionId=<another session>: only the backend can
    # tell whether that session is this user's. Accepting it unasked while the backend is down
    # would subscribe the connection to someone else's pushes.
    bridge = load(BACKEND_FAIL_OPEN="true", BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    session = query or "sess-1"
    event = connect_event(sessionId=session, sessionSource=source)
    if query is not None:
        set_query(event, sessionId=query)
    response = bridge(event)
    assert response["statusCode"] == status
    if status == 200:
        assert scan()[CONNECTION_ID]["sessionId"] == session
    else:
        assert json.loads(response["body"]) == {"error": "backend_unavailable"}
        assert scan() == {}


def test_connect_with_a_token_that_cannot_be_a_header_is_refused_even_failing_open(
    load: Callable[..., Bridge], server: FakeServer
) -> None:
    # Nothing was sent, so there is no backend outage to fail open on.
    bridge = load(BACKEND_FAIL_OPEN="true")
    response = bridge(connect_event(token="abc✓"))
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {"error": "invalid_request"}
    assert server.seen() == []
    assert scan() == {}


def test_a_message_from_a_connection_id_that_cannot_be_a_header_gets_an_error(
    messages: Bridge,
) -> None:
    event = message_event({"type": "command"})
    event["requestContext"]["connectionId"] = "id✓"
    error_of(messages(event), "invalid_request", 400)
    assert messages.server.seen() == []


def test_fail_open_still_asks_the_backend_about_a_query_session(
    load: Callable[..., Bridge], server: FakeServer
) -> None:
    bridge = load(BACKEND_FAIL_OPEN="true")
    server.reply("POST", "/api/labs/session/shared-session/validate", Reply(200, {}))
    event = set_query(
        connect_event(sessionId="shared-session", sessionSource="query"), sessionId="shared-session"
    )
    assert bridge(event)["statusCode"] == 200
    assert scan()[CONNECTION_ID]["sessionId"] == "shared-session"
    server.reply("POST", "/api/labs/session/shared-session/validate", Reply(403, {}))
    assert bridge(event)["statusCode"] == 403


@pytest.fixture(params=["body", "headers"])
def trickle(request: pytest.FixtureRequest) -> Iterator[TrickleServer]:
    phase: Phase = request.param
    server = TrickleServer(phase, interval=0.1).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("fail_open", "status"), [("false", 502), ("true", 200)])
def test_connect_with_a_trickling_backend_ends_at_the_deadline(
    load: Callable[..., Bridge],
    trickle: TrickleServer,
    fail_open: str,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bridge = load(
        BACKEND_URL=trickle.url, BACKEND_FAIL_OPEN=fail_open, BACKEND_TIMEOUT_SECONDS=SHORT_TIMEOUT
    )
    calls: list[tuple[Outcome, float]] = []
    validate = backend_client.validate_session

    def timed(*args: Any, **kwargs: Any) -> BackendResult:
        # The backend call's own duration: DynamoDB's put that follows (fail open) is not
        # the deadline's business, and on a loaded machine it alone can take seconds.
        started = time.monotonic()
        result = validate(*args, **kwargs)
        calls.append((result.outcome, time.monotonic() - started))
        return result

    monkeypatch.setattr(backend_client, "validate_session", timed)
    assert bridge(connect_event())["statusCode"] == status
    ((outcome, took),) = calls
    assert outcome is Outcome.TIMEOUT
    assert 0.45 <= took < 1.0  # SHORT_TIMEOUT, 0.5 s; the answer would take seconds
    assert (CONNECTION_ID in scan()) is (status == 200)


def test_connect_leaves_dynamodb_its_time_before_lambda_ends(
    load: Callable[..., Bridge],
) -> None:
    # 7.8 s left: DynamoDB's budget (7 s) and the answer margin (0.5 s) leave 0.3 s for the
    # backend, although BACKEND_TIMEOUT_SECONDS allows 5 s.
    bridge = load(BACKEND_TIMEOUT_SECONDS="5")
    bridge.server.reply("POST", VALIDATE, Reply(200, {}, delay=2.0))
    started = time.monotonic()
    response = bridge(connect_event(), LambdaContext(remaining_ms=7800))
    assert response["statusCode"] == 502
    assert time.monotonic() - started < 0.8
    assert scan() == {}


def test_connect_with_time_to_spare_keeps_the_configured_timeout(
    load: Callable[..., Bridge],
) -> None:
    bridge = load(BACKEND_TIMEOUT_SECONDS="5")
    bridge.server.reply("POST", VALIDATE, Reply(200, {}, delay=0.6))
    assert bridge(connect_event(), LambdaContext(remaining_ms=20_000))["statusCode"] == 200
    assert CONNECTION_ID in scan()


def test_connect_when_the_table_is_missing_is_500(load: Callable[..., Bridge]) -> None:
    bridge = load(CONNECTIONS_TABLE="no-such-table")
    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    assert bridge(connect_event())["statusCode"] == 500
    assert scan() == {}


def test_connect_when_dynamodb_throttles_is_503(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttler = FakeServer().start()
    try:
        throttler.default = Reply(
            400,
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput.",
            },
            headers={"Content-Type": "application/x-amz-json-1.0"},
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", throttler.url)
        monkeypatch.setattr(connections_table, "_sleep", lambda seconds: None)
        aws.reset_clients()
        bridge.server.reply("POST", VALIDATE, Reply(200, {}))
        assert bridge(connect_event())["statusCode"] == 503
        assert len(throttler.seen()) == 3
    finally:
        throttler.stop()


def test_connect_internal_failure_is_500(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(bridge.module.backend_client, "validate_session", explode)
    assert bridge(connect_event())["statusCode"] == 500
    assert scan() == {}


# ---------------------------------------------------------------------------- $disconnect


def stored(bridge: Bridge, *connection_ids: str) -> None:
    from ws_bridge import connections_table

    for connection_id in connection_ids:
        connections_table.put_connection(
            TABLE,
            connections_table.new_connection(connection_id, "sess-1", "user-1", ttl_seconds=600),
        )


def test_disconnect_deletes_and_notifies(bridge: Bridge) -> None:
    stored(bridge, CONNECTION_ID, "other=")
    bridge.server.reply("POST", DISCONNECT, Reply(204, b""))
    assert bridge(load_event("disconnect")) == {"statusCode": 200, "body": ""}
    assert set(scan()) == {"other="}
    (call,) = bridge.server.seen()
    assert (call.method, call.path) == ("POST", DISCONNECT)
    assert call.headers["Content-Type"] == "application/json"
    assert call.json() == {
        "connectionId": CONNECTION_ID,
        "sessionId": "sess-1",
        "userId": "user-1",
        "disconnectStatusCode": 1001,
        "disconnectReason": "Client going away",
    }


def test_disconnect_is_idempotent(bridge: Bridge) -> None:
    assert bridge(load_event("disconnect"))["statusCode"] == 200
    assert bridge(load_event("disconnect"))["statusCode"] == 200


@pytest.mark.parametrize(
    "reply",
    [Reply(500, {}), Reply(200, {}, delay=1.5), Reply(drop=True)],
    ids=["500", "slow", "dropped"],
)
def test_disconnect_notice_is_best_effort_and_short(
    load: Callable[..., Bridge], reply: Reply
) -> None:
    bridge = load(DISCONNECT_TIMEOUT_SECONDS="0.3" if reply.delay else PATIENT_TIMEOUT)
    stored(bridge, CONNECTION_ID)
    bridge.server.reply("POST", DISCONNECT, reply)
    started = time.monotonic()
    assert bridge(load_event("disconnect"))["statusCode"] == 200
    if reply.delay:
        assert time.monotonic() - started < 0.9  # DISCONNECT_TIMEOUT_SECONDS=0.3
    assert scan() == {}


def test_disconnect_notice_ends_before_lambda_does(load: Callable[..., Bridge]) -> None:
    bridge = load(DISCONNECT_TIMEOUT_SECONDS="5")
    stored(bridge, CONNECTION_ID)
    bridge.server.reply("POST", DISCONNECT, Reply(200, {}, delay=2.0))
    started = time.monotonic()
    response = bridge(load_event("disconnect"), LambdaContext(remaining_ms=800))
    assert response == {"statusCode": 200, "body": ""}
    assert time.monotonic() - started < 0.7  # 0.8 s left - 0.5 s margin
    # 0.3 s cannot hold a DynamoDB attempt (up to 2 s): none is made, the TTL removes the record.
    assert CONNECTION_ID in scan()


def test_disconnect_with_backend_down_and_table_missing_is_still_200(
    load: Callable[..., Bridge],
) -> None:
    bridge = load(CONNECTIONS_TABLE="no-such-table", BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    assert bridge(load_event("disconnect")) == {"statusCode": 200, "body": ""}


# ---------------------------------------------------------------------------- messages


def test_ping_is_answered_without_the_backend(messages: Bridge) -> None:
    before = int(time.time() * 1000)
    response = messages(message_event({"type": "ping"}))
    after = int(time.time() * 1000)
    assert response["statusCode"] == 200
    reply = json.loads(response["body"])
    assert reply == {"type": "pong", "timestamp": reply["timestamp"]}
    assert before <= reply["timestamp"] <= after
    assert messages.server.seen() == []


def pong_of(response: dict[str, Any]) -> int:
    """The timestamp of a pong (the only part that differs between two answers)."""
    assert response["statusCode"] == 200
    reply = json.loads(response["body"])
    assert reply == {"type": "pong", "timestamp": reply["timestamp"]}
    timestamp: int = reply["timestamp"]
    return timestamp


@pytest.mark.parametrize("body", ['{"type":"ping"}', '{"type": "ping"}'])
def test_a_warm_container_answers_the_common_pings_first(
    messages: Bridge, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    messages(message_event({"type": "command"}, name="message"))  # the cold start
    general = messages.module._handle
    monkeypatch.setattr(messages.module, "_handle", lambda *args: pytest.fail("general path"))
    before = int(time.time() * 1000)
    timestamp = pong_of(messages(message_event(body, raw=True)))
    assert before <= timestamp <= int(time.time() * 1000)
    # Any other ping, however close, takes the general path, which answers it alike.
    monkeypatch.setattr(messages.module, "_handle", general)
    for other in ('{"type":"ping","x":1}', '{ "type":"ping"}', '{"type":"ping"}\n'):
        assert messages.module._fast_ping(message_event(other, raw=True)) is None
        pong_of(messages(message_event(other, raw=True)))


def test_the_first_ping_of_a_container_logs_nothing_and_spends_the_cold_start(
    messages: Bridge, captured_logs: Callable[[], str]
) -> None:
    assert not messages.module._warm
    pong_of(messages(message_event({"type": "ping"})))
    assert messages.module._warm
    captured_logs()
    pong_of(messages(message_event({"type": "ping"})))  # the fast path: no line either
    assert captured_logs() == ""
    error_of(messages(message_event("garbage", raw=True)), "invalid_json", 400)
    assert json.loads(captured_logs().splitlines()[0])["cold_start"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"isBase64Encoded": True},
        {"requestContext": {"routeKey": "$connect"}},
        {"requestContext": {"routeKey": "$disconnect"}},
        {"requestContext": {"routeKey": "", "eventType": "CONNECT"}},
        {"requestContext": {"routeKey": None}},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": {"exp": "0"}}},
        {"requestContext": None},
        {"body": b'{"type":"ping"}'},
    ],
    ids=[
        "base64",
        "connect",
        "disconnect",
        "connect-by-event-type",
        "no-route",
        "no-authorizer",
        "expired",
        "no-context",
        "bytes",
    ],
)
def test_pings_the_fast_path_leaves_to_the_general_one(
    messages: Bridge, change: dict[str, Any]
) -> None:
    event = message_event({"type": "ping"})
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            event[key] = {**event[key], **value}
        else:
            event[key] = value
    messages(message_event({"type": "command"}))  # warm
    assert messages.module._fast_ping(event) is None


def test_an_expired_token_is_caught_on_a_warm_ping(
    messages: Bridge, management: FakeServer
) -> None:
    messages(message_event({"type": "ping"}))  # warm
    event = message_event({"type": "ping"})
    event["requestContext"]["authorizer"]["exp"] = str(int(time.time()) - 1)
    error_of(messages(event), "token_expired", 401)
    assert [call.method for call in management.seen()] == ["POST", "DELETE"]
    event["requestContext"]["authorizer"]["exp"] = int(time.time()) + 60
    pong_of(messages(event))


def test_a_warm_ping_with_an_expired_token_is_answered_when_expiry_is_not_enforced(
    load_without_aws: Callable[..., Bridge],
) -> None:
    bridge = load_without_aws(TOKEN_EXPIRY_ENFORCED="false")
    bridge(message_event({"type": "ping"}))  # warm
    event = message_event({"type": "ping"})
    event["requestContext"]["authorizer"] = {"exp": "0"}
    assert bridge.module._fast_ping(event) is not None
    pong_of(bridge(event))


def test_message_is_forwarded_with_identity_from_the_authorizer(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"type": "command_result", "result": "ok"}))
    response = messages(
        message_event(
            {
                "type": "command",
                "command": "ls",
                "sessionId": "someone-elses-session",
                "userId": "mallory",
                "connectionId": "spoofed=",
            }
        )
    )
    assert response["statusCode"] == 200
    assert untraced(response) == {"type": "command_result", "result": "ok"}
    (call,) = messages.server.seen()
    assert (call.method, call.path) == ("POST", MESSAGE)
    assert call.headers["X-Connection-Id"] == CONNECTION_ID
    assert call.headers["Content-Type"] == "application/json"
    assert call.json() == {
        "type": "command",
        "command": "ls",
        "sessionId": "sess-1",
        "userId": "user-1",
        "connectionId": CONNECTION_ID,
        "traceparent": call.headers["traceparent"],
    }


def test_custom_route_is_forwarded(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"type": "resize_ack"}))
    response = messages(load_event("message_custom_route"))
    assert untraced(response) == {"type": "resize_ack"}
    assert messages.server.seen()[0].json() == {
        "action": "terminal",
        "type": "resize",
        "cols": 120,
        "rows": 40,
        "connectionId": CONNECTION_ID,
        "sessionId": "sess-1",
        "userId": "user-1",
        "traceparent": messages.server.seen()[0].headers["traceparent"],
    }


def test_unknown_and_missing_types_go_to_the_backend(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"type": "unknown_command"}))
    for body in ({"type": "teleport"}, {}, {"type": 5}, {"type": ["ping"]}):
        response = messages(message_event(body))
        assert untraced(response) == {"type": "unknown_command"}
    assert len(messages.server.seen()) == 4


def test_unusual_unicode_reaches_the_backend_intact(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"ok": True}))
    text = "zero\u200bwidth \u202eRTL 🧪 e\u0301 \U0010fffd \x00"
    messages(message_event({"type": "command", "command": text}))
    assert messages.server.seen()[0].json()["command"] == text


def test_base64_body_is_decoded(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"ok": True}))
    event = message_event(
        base64.b64encode(b'{"type":"command","command":"pwd"}').decode(), raw=True
    )
    event["isBase64Encoded"] = True
    assert messages(event)["statusCode"] == 200
    assert messages.server.seen()[0].json()["command"] == "pwd"


def test_largest_allowed_message_is_forwarded(messages: Bridge) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"ok": True}))
    envelope = len(json.dumps({"type": "command", "command": ""}))
    body = json.dumps({"type": "command", "command": "x" * (128 * 1024 - envelope)})
    assert len(body.encode()) == 128 * 1024
    assert messages(message_event(body, raw=True))["statusCode"] == 200


@pytest.mark.parametrize(
    ("body", "base64_encoded", "code", "status"),
    [
        ("not json", False, "invalid_json", 400),
        ("", False, "invalid_json", 400),
        (None, False, "invalid_json", 400),
        ('{"type": "command"', False, "invalid_json", 400),
        ('{"n": NaN}', False, "invalid_json", 400),
        ('{"n": Infinity}', False, "invalid_json", 400),
        ('{"n": 1e999}', False, "invalid_json", 400),
        ('{"n": [1, -1e400]}', False, "invalid_json", 400),
        ("[" * 100_000 + "]" * 100_000, False, "message_too_large", 413),
        ('{"a":' * 65 + "1" + "}" * 65, False, "invalid_json", 400),
        ("[" * 20_000 + "]" * 20_000, False, "invalid_json", 400),
        ('{"bad": "\\ud800"}', False, "invalid_json", 400),
        ('{"\\udc00": 1}', False, "invalid_json", 400),
        ('{"a": [{"b": "x\\udbff"}]}', False, "invalid_json", 400),
        ('{"type": "ping", "note": "\\udbff"}', False, "invalid_json", 400),
        ('{"type": "command", "userId": ["\\ud800"]}', False, "invalid_json", 400),
        ('{"bad": "\ud800"}', False, "invalid_json", 400),
        ("\ufeff{}", False, "invalid_json", 400),
        ("[]", False, "not_an_object", 400),
        ('[{"type": "ping"}]', False, "not_an_object", 400),
        ("42", False, "not_an_object", 400),
        ('"ping"', False, "not_an_object", 400),
        ("null", False, "not_an_object", 400),
        ("true", False, "not_an_object", 400),
        ('{"pad": "' + "x" * (128 * 1024) + '"}', False, "message_too_large", 413),
        ('{"pad": "' + "é" * (64 * 1024) + '"}', False, "message_too_large", 413),
        (base64.b64encode(b'\xff\xfe{"a":1}').decode(), True, "invalid_json", 400),
        (base64.b64encode(b"\x00\x01\x02binary").decode(), True, "invalid_json", 400),
        ("not base64!", True, "invalid_json", 400),
        (base64.b64encode(b"{}" + b" " * (128 * 1024)).decode(), True, "message_too_large", 413),
    ],
    ids=[
        "text",
        "empty",
        "missing",
        "truncated",
        "nan",
        "infinity",
        "overflow",
        "overflow-nested",
        "huge-nesting",
        "too-deep",
        "recursion",
        "lone-surrogate",
        "lone-surrogate-key",
        "lone-surrogate-nested",
        "lone-surrogate-in-a-ping",
        "lone-surrogate-in-an-overridden-field",
        "raw-surrogate-in-the-event",
        "bom",
        "array",
        "array-of-ping",
        "number",
        "string",
        "null",
        "bool",
        "too-large",
        "too-large-multibyte",
        "invalid-utf8",
        "binary",
        "bad-base64",
        "too-large-base64",
    ],
)
def test_malformed_messages_get_an_error_reply(
    messages: Bridge, body: Any, base64_encoded: bool, code: str, status: int
) -> None:
    event = load_event("message")
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    error_of(messages(event), code, status)
    assert messages.server.seen() == []
    # the connection stays usable: the next message works
    assert json.loads(messages(message_event({"type": "ping"}))["body"])["type"] == "pong"


@pytest.mark.parametrize(
    ("reply", "code", "status"),
    [
        (Reply(500, {"error": "boom"}), "backend_error", 502),
        (Reply(404, {"error": "no route"}), "backend_error", 502),
        (Reply(301, "", headers={"Location": "/x"}), "backend_error", 502),
        (Reply(200, "<html>oops</html>"), "backend_invalid_reply", 502),
        (Reply(200, b""), "backend_invalid_reply", 502),
        (Reply(200, b"\xff\xfe"), "backend_invalid_reply", 502),
        (Reply(200, b'{"v": NaN}'), "backend_invalid_reply", 502),
        (Reply(200, b'"' + b"x" * (128 * 1024) + b'"'), "backend_invalid_reply", 502),
        (Reply(200, {}, delay=1.5), "backend_timeout", 504),
        (Reply(drop=True), "backend_unavailable", 502),
    ],
    ids=[
        "500",
        "404",
        "redirect",
        "html",
        "empty",
        "not-utf8",
        "nan",
        "too-large",
        "slow",
        "dropped",
    ],
)
def test_backend_failures_get_an_error_reply(
    load_without_aws: Callable[..., Bridge], reply: Reply, code: str, status: int
) -> None:
    messages = load_without_aws(BACKEND_TIMEOUT_SECONDS=backend_timeout(reply))
    messages.server.reply("POST", MESSAGE, reply)
    started = time.monotonic()
    error_of(messages(message_event({"type": "command", "command": "ls"})), code, status)
    if reply.delay:
        assert time.monotonic() - started < 1.2  # SHORT_TIMEOUT, 0.5 s: far below 29 s


def test_a_trickling_reply_gets_backend_timeout_at_the_deadline(
    load_without_aws: Callable[..., Bridge], trickle: TrickleServer
) -> None:
    messages = load_without_aws(BACKEND_URL=trickle.url, BACKEND_TIMEOUT_SECONDS=SHORT_TIMEOUT)
    started = time.monotonic()
    error_of(messages(message_event({"type": "command"})), "backend_timeout", 504)
    assert time.monotonic() - started < 1.0  # SHORT_TIMEOUT, 0.5 s


def test_a_message_ends_before_lambda_does(load_without_aws: Callable[..., Bridge]) -> None:
    messages = load_without_aws(BACKEND_TIMEOUT_SECONDS="5")
    messages.server.reply("POST", MESSAGE, Reply(200, {}, delay=2.0))
    started = time.monotonic()
    response = messages(message_event({"type": "command"}), LambdaContext(remaining_ms=900))
    error_of(response, "backend_timeout", 504)
    assert time.monotonic() - started < 0.8  # 0.9 s left - 0.5 s margin


def test_backend_down_gets_an_error_reply(load_without_aws: Callable[..., Bridge]) -> None:
    messages = load_without_aws(BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    error_of(messages(message_event({"type": "command"})), "backend_unavailable", 502)


def test_internal_failure_gets_an_error_reply(
    messages: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(messages.module.backend_client, "forward_body", explode)
    error_of(messages(message_event({"type": "command"})), "internal_error", 500)


def test_messages_never_touch_dynamodb(messages: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = FakeServer().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", counter.url)
        aws.reset_clients()
        messages.server.reply("POST", MESSAGE, Reply(200, {"ok": True}))
        messages(message_event({"type": "ping"}))
        messages(message_event({"type": "command"}))
        messages(message_event("garbage", raw=True))
        assert counter.seen() == []
        assert aws.dynamodb.cache_info().currsize == 0
    finally:
        counter.stop()


@pytest.mark.parametrize(
    ("event", "status", "error"),
    [
        (None, 400, "invalid_json"),
        ([], 400, "invalid_json"),
        ({}, 400, "invalid_json"),
        ({"requestContext": None}, 400, "invalid_json"),
        (
            {"requestContext": {"routeKey": 5, "authorizer": "x"}, "body": {"not": "a string"}},
            400,
            "invalid_json",
        ),
        (
            {"requestContext": {"routeKey": "$connect", "authorizer": {"userId": 1}}},
            401,
            "not_authorized",
        ),
        (
            {
                "requestContext": {
                    "routeKey": "$connect",
                    "connectionId": CONNECTION_ID,
                    "authorizer": {"userId": "user-1", "sessionId": ["sess-1"]},
                }
            },
            400,
            "session_required",
        ),
        ({"requestContext": {"eventType": "DISCONNECT"}}, 200, None),
    ],
    ids=[
        "none",
        "list",
        "empty",
        "null-context",
        "wrong-types",
        "user-id-not-a-string",
        "session-id-not-a-string",
        "disconnect-without-ids",
    ],
)
def test_malformed_events_get_well_formed_answers(
    messages: Bridge, event: Any, status: int, error: str | None
) -> None:
    response = messages(event)
    assert set(response) <= {"statusCode", "body", "headers"}
    assert response["statusCode"] == status
    assert isinstance(response["body"], str)
    if error is None:
        assert response["body"] == ""
    else:
        assert json.loads(response["body"])["error"] == error
    assert messages.server.seen("GET") == []


# ---------------------------------------------------------------------------- token expiry


@pytest.fixture
def management(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A fake @connections endpoint, as the local gateway provides one to its workers."""
    fake = FakeServer().start()
    fake.default = Reply(200, b"")
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", fake.url)
    aws.reset_clients()
    yield fake
    fake.stop()


def expiring_message(exp: Any) -> dict[str, Any]:
    event = message_event({"type": "command"})
    event["requestContext"]["authorizer"] = {"userId": "user-1", "sessionId": "sess-1", "exp": exp}
    return event


# Fixed ids: ids made of the values would name the tests after the second they were collected
# in, and pytest-xdist refuses a run whose workers collected different names.
@pytest.mark.parametrize(
    "exp", [str(int(time.time()) - 1), int(time.time()) - 1], ids=["string", "number"]
)
def test_a_message_after_the_token_expired_gets_token_expired_and_the_connection_closes(
    messages: Bridge, management: FakeServer, exp: Any
) -> None:
    event = expiring_message(exp)
    reply = error_of(messages(event), "token_expired", 401)
    assert messages.server.seen() == []  # nothing reaches the backend
    post, delete = management.seen()
    connection = event["requestContext"]["connectionId"]
    assert (post.method, unquote(post.path)) == ("POST", f"/@connections/{connection}")
    assert json.loads(post.body) == reply  # the client learns why before the close
    assert (delete.method, unquote(delete.path)) == ("DELETE", f"/@connections/{connection}")


def test_a_message_before_expiry_is_forwarded(messages: Bridge, management: FakeServer) -> None:
    messages.server.reply("POST", MESSAGE, Reply(200, {"type": "ok"}))
    response = messages(expiring_message(str(int(time.time()) + 60)))
    assert untraced(response) == {"type": "ok"}
    assert management.seen() == []


def test_expiry_is_not_enforced_when_turned_off(
    load_without_aws: Callable[..., Bridge], management: FakeServer
) -> None:
    bridge = load_without_aws(TOKEN_EXPIRY_ENFORCED="false")
    bridge.server.reply("POST", MESSAGE, Reply(200, {"type": "ok"}))
    response = bridge(expiring_message(str(int(time.time()) - 60)))
    assert untraced(response) == {"type": "ok"}
    assert management.seen() == []


def test_the_management_endpoint_comes_from_the_event_on_aws(
    messages: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", raising=False)
    info = messages.module.RequestInfo.from_event(load_event("message"))
    assert messages.module.management_endpoint(info) == (
        f"https://{info.api_id}.execute-api.eu-west-1.amazonaws.com/{info.stage}"
    )


def test_the_gauge_agrees_with_the_live_records_when_a_tenth_of_disconnects_are_lost(
    bridge: Bridge,
) -> None:
    """20 connections through the handler's $connect, all closed, but the $disconnect of
    every tenth never arrives (API Gateway's best effort): the gauge counts the two records
    left while they live, as the table's live records are, and none once they expire, though
    DynamoDB has not deleted them yet."""
    import boto3

    from ws_bridge import gauge

    bridge.server.reply("POST", VALIDATE, Reply(200, {}))
    bridge.server.reply("POST", DISCONNECT, Reply(204, b""))
    ids = [f"conn-{n:02d}=" for n in range(20)]
    for connection_id in ids:
        event = connect_event()
        event["requestContext"]["connectionId"] = connection_id
        assert bridge(event)["statusCode"] == 200
    lost = ids[::10]
    for connection_id in ids:
        if connection_id not in lost:
            event = load_event("disconnect")
            event["requestContext"]["connectionId"] = connection_id
            assert bridge(event)["statusCode"] == 200
    records = scan()
    assert sorted(records) == lost
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    live = [r for r in records.values() if r["expiresAt"] > time.time()]
    assert gauge.count_open(dynamodb, TABLE) == len(live) == 2
    later = max(r["expiresAt"] for r in records.values()) + 1
    assert gauge.count_open(dynamodb, TABLE, now=lambda: later) == 0
    assert sorted(scan()) == lost  # still there: TTL deletes lazily
