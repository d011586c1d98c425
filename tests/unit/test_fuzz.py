"""Property-based fuzzing of every entry point with generated API Gateway events: the
authorizer, ``$connect``, ``$disconnect``, ``$default`` and a custom route.

Each property says more than "it did not raise": the answer is well formed, the status and
error code come from the handler's tables, a record is stored exactly when ``$connect``
answers 200, identity always comes from the authorizer context, and the safety net that turns
an unexpected exception into ``internal_error`` is never needed.

The number of cases per property is ``FUZZ_EXAMPLES`` (see conftest.py): modest by default,
more in ``make fuzz``; generation is derandomized, so a run repeats exactly. Properties about
tokens also draw realistic events carrying a valid, a forged or no token, count the branches
they reach and fail when one is never reached: a property that never gets past the first
refusal proves nothing about what lies behind it.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from bridge_fakes import (
    REGION,
    FakeServer,
    Reply,
    free_port,
    hs_token,
    load_event,
    scan,
    set_header,
    set_query,
    untraced,
)
from hypothesis import given
from hypothesis import strategies as st

from ws_bridge import aws, connections_table
from ws_bridge_backend.traceparent import is_valid

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
JUNK = JSON | st.binary(max_size=20).map(lambda b: b.decode("latin-1"))
STRINGS = st.text(max_size=30) | st.sampled_from(["", "R0oXAdfD0kwCH6w=", "sess-1", "user-1"])
ROUTES = st.sampled_from(["$connect", "$disconnect", "$default", "terminal", ""]) | JUNK
# Lone surrogates: no client can send them as UTF-8, but JSON can carry them escaped (\ud800).
SURROGATES = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
FIELDS = ["type", "action", "command", "sessionId", "userId", "connectionId", "x"]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JUNK


def bodies() -> st.SearchStrategy[Any]:
    objects = st.dictionaries(
        st.sampled_from(FIELDS),
        JSON | st.sampled_from(["ping", "command", "terminal"]),
        max_size=5,
    )
    escaped = st.dictionaries(
        st.sampled_from(FIELDS) | SURROGATES,
        st.sampled_from(["ping", "command"]) | SURROGATES | st.text(max_size=5),
        min_size=1,
        max_size=3,
    ).map(json.dumps)  # ensure_ascii: surrogates arrive as \\udXXX escapes
    nested = st.tuples(st.integers(1, 3000), st.sampled_from(['{"a":', "["])).map(
        lambda pair: pair[1] * pair[0] + "1" + ("}" if pair[1] == '{"a":' else "]") * pair[0]
    )
    return st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        objects.map(json.dumps),
        escaped,
        nested,
        st.just('{"type": "ping"}'),
        st.binary(max_size=100).map(lambda b: base64.b64encode(b).decode()),
        JUNK,
    )


def authorizer_context() -> st.SearchStrategy[Any]:
    return maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "userId": maybe(STRINGS),
                "sessionId": maybe(STRINGS),
                "sessionSource": maybe(st.sampled_from(["token", "query", ""])),
            },
        )
    )


def events(tokens: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    headers = maybe(
        st.dictionaries(
            st.sampled_from(["Authorization", "authorization", "Sec-WebSocket-Protocol", "X"]),
            maybe(tokens.map(lambda t: f"Bearer {t}") | tokens.map(lambda t: f"bearer, {t}")),
            max_size=3,
        )
    )
    query = maybe(
        st.dictionaries(st.sampled_from(["token", "sessionId", "x"]), maybe(tokens), max_size=3)
    )
    context = maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "routeKey": ROUTES,
                "eventType": maybe(st.sampled_from(["CONNECT", "MESSAGE", "DISCONNECT"])),
                "connectionId": maybe(STRINGS),
                "requestId": maybe(STRINGS),
                "connectedAt": maybe(st.integers()),
                "disconnectStatusCode": maybe(st.integers()),
                "identity": maybe(st.fixed_dictionaries({}, optional={"sourceIp": maybe(STRINGS)})),
                "authorizer": authorizer_context(),
            },
        )
    )
    event = st.fixed_dictionaries(
        {},
        optional={
            "requestContext": context,
            "headers": headers,
            "multiValueHeaders": maybe(st.dictionaries(st.text(max_size=5), JUNK, max_size=2)),
            "queryStringParameters": query,
            "multiValueQueryStringParameters": maybe(
                st.dictionaries(st.sampled_from(["token", "sessionId"]), JUNK, max_size=2)
            ),
            "methodArn": maybe(STRINGS),
            "body": bodies(),
            "isBase64Encoded": maybe(st.booleans()),
        },
    )
    realistic = st.sampled_from(["message", "connect", "disconnect", "message_custom_route"]).map(
        load_event
    )
    return event | st.tuples(realistic, bodies()).map(lambda pair: {**pair[0], "body": pair[1]})


# ---------------------------------------------------------------------------- realistic events

TOKEN_KINDS = ("valid", "forged", "missing", "junk")


def token_for(kind: str) -> st.SearchStrategy[str | None]:
    """A token of the given kind: valid (signed with the test secret), forged (signed with
    another key, tampered, expired, unsigned) or missing; junk is any text at all."""
    if kind == "valid":
        return st.builds(hs_token)
    if kind == "forged":
        return (
            st.sampled_from(["another-key-0123456789-0123456789-abcdefghij", None]).flatmap(
                lambda key: st.just(hs_token(key)) if key else st.builds(lambda: hs_token() + "x")
            )
            | st.builds(lambda: hs_token(exp=1))
            | st.just("a.b.c")
        )
    if kind == "missing":
        return st.none()
    # Anything a client can type, including text no HTTP header can carry.
    return st.text(max_size=40).filter(bool)


def place_token(event: dict[str, Any], token: str | None, where: str) -> dict[str, Any]:
    if token is None:
        return event
    if where == "query":
        return set_query(event, token=token)
    if where == "authorization":
        return set_header(event, "Authorization", f"Bearer {token}")
    return set_header(event, "Sec-WebSocket-Protocol", f"bearer, {token}")


def token_events(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(kind, event): the recorded ``name`` event with a token of that kind in one place."""

    def build(kind: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        return st.tuples(
            st.just(kind),
            st.builds(
                lambda token, where: place_token(load_event(name), token, where),
                token_for(kind),
                st.sampled_from(["query", "authorization", "protocol"]),
            ),
        )

    return st.sampled_from(TOKEN_KINDS).flatmap(build)


def mostly(
    realistic: st.SearchStrategy[tuple[str, Any]], generated: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[str, Any]]:
    """Three realistic events (valid, forged, missing, junk tokens) for one generated one."""
    tagged = generated.map(lambda event: ("generated", event))
    return st.integers(0, 3).flatmap(lambda n: tagged if n == 0 else realistic)


def assert_reached(reached: Counter[str], expected: set[str]) -> None:
    missing = expected - set(reached)
    assert not missing, f"branches never reached: {sorted(missing)} (reached: {dict(reached)})"


def routed(tokens: st.SearchStrategy[str], route_key: str) -> st.SearchStrategy[dict[str, Any]]:
    """Generated events that API Gateway delivers on ``route_key`` (the rest still junk)."""

    def place(event: dict[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext")
        context = dict(context) if isinstance(context, dict) else {}
        context["routeKey"] = route_key
        return {**event, "requestContext": context}

    return events(tokens).map(place)


def assert_well_formed(response: Any) -> None:
    assert isinstance(response, dict)
    assert set(response) <= {"statusCode", "body", "headers"}
    assert isinstance(response["statusCode"], int)
    assert 200 <= response["statusCode"] <= 599
    assert isinstance(response["body"], str)


def assert_no_safety_net(text: str, message: str) -> None:
    """Every line is JSON and none says an unexpected exception was caught.

    Lines end at "\n" only: values may hold U+0085 or U+2028, which JSON leaves unescaped
    and ``str.splitlines`` would take for line ends."""
    records = [json.loads(line) for line in text.split("\n") if line.strip()]
    assert all(isinstance(record, dict) for record in records)
    caught = [record for record in records if record.get("message") == message]
    assert caught == [], caught


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections_table, "_sleep", lambda seconds: None)


# ---------------------------------------------------------------------------- any route


def test_handler_never_raises_and_always_answers_well_formed(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: None,
) -> None:
    # No AWS at all: DynamoDB calls fail fast, as an outage would.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()
    server.default = Reply(200, {"type": "ok"})
    module = load_handler(
        CONNECTIONS_TABLE="t", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="5"
    )

    @given(event=events(st.just(hs_token()) | st.text(max_size=40)))
    def check(event: Any) -> None:
        response = module.handler(event, None)
        assert_well_formed(response)
        info = module.RequestInfo.from_event(event if isinstance(event, dict) else {})
        if info.kind == "message":
            reply = json.loads(response["body"])
            assert isinstance(reply, dict)
            assert reply.get("type") in {"ok", "pong", "error"}
            if reply["type"] == "error":
                assert set(reply) == {"type", "error", "message", "requestId", "traceparent"}
                assert reply["error"] in module.ERRORS
                assert is_valid(reply["traceparent"])

    check()


FAST_PINGS = {'{"type":"ping"}', '{"type": "ping"}'}  # what the handler answers first
PING_BODIES = st.sampled_from(
    [
        *sorted(FAST_PINGS),
        '{"type":"ping" }',
        '{"type":"ping","x":1}',
        '{"type":"ping","type":"ping"}',
        '{"type":"Ping"}',
        '{"type":"ping"',
        '["ping"]',
        "eyJ0eXBlIjoicGluZyJ9",  # {"type":"ping"} in base64
    ]
)


def ping_events() -> st.SearchStrategy[dict[str, Any]]:
    """Recorded message events carrying a ping-like body, with a drawn route, event type,
    base64 flag and token expiry (past, future, junk or none), and the odd junk part."""
    expiries = st.sampled_from(["past", "future", "none"]) | JUNK

    def build(parts: tuple[Any, ...]) -> dict[str, Any]:
        body, route, event_type, encoded, exp, junk_context = parts
        event = load_event("message")
        context = event["requestContext"]
        context["routeKey"] = route
        context["eventType"] = event_type
        authorizer = context["authorizer"]
        if exp == "past":
            authorizer["exp"] = str(int(time.time()) - 5)
        elif exp == "future":
            authorizer["exp"] = int(time.time()) + 3600
        elif exp != "none":
            authorizer["exp"] = exp
        if junk_context is not None:
            event["requestContext"] = junk_context
        return {**event, "body": body, "isBase64Encoded": encoded}

    routes = st.sampled_from(["$default", "terminal", "", "$connect", "$disconnect"])
    anything = st.tuples(
        PING_BODIES | bodies(),
        routes | JUNK,
        st.sampled_from(["MESSAGE", "CONNECT", "DISCONNECT"]),
        st.sampled_from([False, True, None, "true"]),
        expiries,
        st.none() | JUNK,
    )
    # Pings as clients send them, one drawn event in three: both paths are reached often.
    common = st.tuples(
        st.sampled_from(sorted(FAST_PINGS)),
        st.sampled_from(["$default", "terminal"]),
        st.just("MESSAGE"),
        st.sampled_from([False, None]),
        st.sampled_from(["past", "future", "none"]),
        st.none(),
    )
    return st.integers(0, 2).flatmap(lambda n: anything if n == 0 else common).map(build)


def without_timestamp(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body")
    if isinstance(body, str) and body.startswith('{"type":"pong"'):
        assert set(json.loads(body)) == {"type", "timestamp"}
        return {**response, "body": "pong"}
    if isinstance(body, str) and '"traceparent"' in body:  # a new trace on each call
        return {**response, "body": json.dumps(untraced(response))}
    return response


@pytest.mark.parametrize("enforced", ["true", "false"])
def test_the_ping_fast_path_answers_as_the_general_path(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: None,
    enforced: str,
) -> None:
    """On a warm container, the handler (fast path first) answers every event as the general
    path alone does, pong timestamps aside; and when the fast path answers, so would it."""
    management = FakeServer().start()
    management.default = Reply(200, b"")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", management.url)
    aws.reset_clients()
    server.default = Reply(200, {"type": "ok"})
    module = load_handler(
        CONNECTIONS_TABLE="t",
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS="5",
        TOKEN_EXPIRY_ENFORCED=enforced,
    )
    module.handler(load_event("message"), None)  # the cold start: later calls are warm
    assert module._warm
    reached: Counter[str] = Counter()

    @given(event=ping_events())
    def check(event: dict[str, Any]) -> None:
        fast = module._fast_ping(event)
        general = without_timestamp(module._handle(event, None))
        if fast is not None:
            reached["fast"] += 1
            assert without_timestamp(fast) == general == {"statusCode": 200, "body": "pong"}
            assert event["body"] in FAST_PINGS
        else:
            reached["general"] += 1
        assert without_timestamp(module.handler(event, None)) == general

    try:
        check()
    finally:
        management.stop()
    assert_reached(reached, {"fast", "general"})


# ---------------------------------------------------------------------------- authorizer


def test_authorizer_answers_a_policy_or_unauthorized(
    load_authorizer: Callable[..., ModuleType],
    secret_arn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_authorizer(JWT_SECRET_ARN=secret_arn)
    good = hs_token()
    tokens = st.sampled_from([good, good + "x", hs_token(exp=1), "a.b.c"]) | st.text(max_size=40)
    capsys.readouterr()
    reached: Counter[str] = Counter()

    @given(drawn=mostly(token_events("authorizer_request"), events(tokens)))
    def check(drawn: tuple[str, Any]) -> None:
        kind, event = drawn
        failure: Exception | None = None
        try:
            answer = module.handler(event, None)
        except Exception as exc:  # noqa: BLE001 - the property is about what escapes
            failure = exc
        assert_no_safety_net(capsys.readouterr().out, "authorizer failed")
        decision = (
            "unauthorized"
            if failure is not None
            else "allow"
            if (answer["policyDocument"]["Statement"][0]["Effect"] == "Allow")
            else "deny"
        )
        reached[f"{kind}:{decision}"] += 1
        if kind == "valid":
            assert decision == "allow"
        elif kind in ("forged", "missing"):
            assert decision == "unauthorized"
        if failure is not None:
            assert type(failure) is Exception
            assert str(failure) == "Unauthorized"
            return
        assert isinstance(answer, dict)
        assert isinstance(answer["principalId"], str)
        (statement,) = answer["policyDocument"]["Statement"]
        assert statement["Effect"] in {"Allow", "Deny"}
        assert statement["Action"] == "execute-api:Invoke"
        method_arn = event.get("methodArn")
        assert statement["Resource"] == (method_arn if isinstance(method_arn, str) else "")
        if statement["Effect"] == "Allow":
            assert set(answer["context"]) == {"userId", "sessionId", "sessionSource", "exp"}
            assert answer["context"]["exp"].isdigit()
            assert all(isinstance(v, str) for v in answer["context"].values())
            assert answer["context"]["userId"] == "user-1"
        else:
            assert "context" not in answer

    check()
    assert_reached(reached, {"valid:allow", "forged:unauthorized", "missing:unauthorized"})


# ---------------------------------------------------------------------------- $connect

# The validate endpoint's answer and the $connect status it must lead to (docs/design.md).
VALIDATE_OUTCOMES = {200: 200, 401: 502, 403: 403, 404: 400, 409: 400, 500: 502, 503: 502}


def clear_table(table: str) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    for connection_id in scan(table):
        client.delete_item(TableName=table, Key={"connectionId": {"S": connection_id}})


def test_connect_stores_a_record_exactly_when_it_accepts(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    table: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_handler(
        CONNECTIONS_TABLE=table, BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="5"
    )
    capsys.readouterr()
    reached: Counter[str] = Counter()
    generated = routed(st.just(hs_token()) | st.text(max_size=40), "$connect")

    @given(
        drawn=mostly(token_events("connect"), generated),
        # "valid" often: the accepted branch needs the backend's 200.
        validate_status=st.just(200) | st.sampled_from(sorted(VALIDATE_OUTCOMES)),
    )
    def check(drawn: tuple[str, dict[str, Any]], validate_status: int) -> None:
        kind, event = drawn
        server.default = Reply(validate_status, {"valid": validate_status == 200})
        calls_before = len(server.seen())
        started = int(time.time())
        response = module.handler(event, None)
        assert_well_formed(response)
        assert_no_safety_net(capsys.readouterr().out, "handler failed")
        info = module.RequestInfo.from_event(event)
        records = scan(table)
        clear_table(table)
        status = response["statusCode"]
        asked = len(server.seen()) > calls_before
        reached[f"{kind}:{'asked' if asked else 'not-asked'}"] += 1
        reached[f"{kind}:{'accepted' if status == 200 else 'refused'}"] += 1
        if kind == "missing":  # the authorizer let it through, but there is no token to send
            assert (status, asked) == (401, False)
        elif kind in ("valid", "forged"):  # the handler hands any token to the backend
            assert asked
        if status == 200:
            assert validate_status == 200
            assert set(records) == {info.connection_id}
            record = records[info.connection_id]
            # identity from the authorizer context, TTL in epoch seconds
            assert (record["sessionId"], record["userId"]) == (info.session_id, info.user_id)
            assert started + 7200 <= record["expiresAt"] <= int(time.time()) + 7200
            (call,) = server.seen()[calls_before:]
            assert call.method == "POST"
            assert call.headers["Authorization"].startswith("Bearer ")
            return
        assert records == {}
        reason = json.loads(response["body"])["error"]
        assert module.REJECTIONS[reason] == status
        if asked:  # the backend was asked: its answer decided
            assert status == VALIDATE_OUTCOMES[validate_status]

    check()
    assert_reached(reached, {"valid:accepted", "valid:asked", "forged:asked", "missing:refused"})


# ---------------------------------------------------------------------------- $disconnect


def test_disconnect_always_answers_200_and_deletes_the_record(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    table: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_handler(
        CONNECTIONS_TABLE=table,
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS="5",
        DISCONNECT_TIMEOUT_SECONDS="0.3",
    )
    capsys.readouterr()

    @given(
        event=routed(st.just(hs_token()) | st.text(max_size=40), "$disconnect"),
        notice_status=st.sampled_from([200, 204, 404, 500]),
    )
    def check(event: dict[str, Any], notice_status: int) -> None:
        server.default = Reply(notice_status, b"")
        info = module.RequestInfo.from_event(event)
        if info.connection_id:
            connections_table.put_connection(
                table,
                connections_table.new_connection(info.connection_id, "s", "u", ttl_seconds=600),
            )
        response = module.handler(event, None)
        assert response == {"statusCode": 200, "body": ""}
        assert_no_safety_net(capsys.readouterr().out, "handler failed")
        assert scan(table) == {}

    check()


# ---------------------------------------------------------------------------- messages


@pytest.mark.parametrize("route_key", ["$default", "terminal"])
def test_messages_get_a_reply_or_a_clear_error_and_identity_is_never_the_clients(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: None,
    capsys: pytest.CaptureFixture[str],
    route_key: str,
) -> None:
    # Messages need no AWS service: an accidental DynamoDB call would fail, not pass quietly.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()
    server.default = Reply(200, {"type": "ok"})
    module = load_handler(
        CONNECTIONS_TABLE="t", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="5"
    )
    capsys.readouterr()

    @given(event=routed(st.just(hs_token()), route_key))
    def check(event: dict[str, Any]) -> None:
        calls_before = len(server.seen())
        response = module.handler(event, None)
        assert_well_formed(response)
        assert_no_safety_net(capsys.readouterr().out, "handler failed")
        info = module.RequestInfo.from_event(event)
        reply = json.loads(response["body"])
        calls = server.seen()[calls_before:]
        if reply.get("type") == "error":
            assert set(reply) == {"type", "error", "message", "requestId", "traceparent"}
            assert reply["error"] != "internal_error"
            assert module.ERRORS[reply["error"]][0] == response["statusCode"]
            assert reply["requestId"] == info.request_id
            assert calls == [] or reply["error"].startswith("backend_")
        elif reply.get("type") == "pong":
            assert calls == []
        else:
            (call,) = calls
            assert reply == {"type": "ok", "traceparent": call.headers["traceparent"]}
            assert (call.method, call.headers["X-Connection-Id"]) == ("POST", info.connection_id)
            sent = call.json()
            identity = (sent["connectionId"], sent["sessionId"], sent["userId"])
            assert identity == (info.connection_id, info.session_id, info.user_id)

    check()
