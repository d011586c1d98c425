"""Property-based fuzzing of both entry points with generated API Gateway events.

Modest by default; ``HYPOTHESIS_PROFILE=fuzz`` runs thousands of cases (see conftest.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from bridge_fakes import FakeServer, Reply, free_port, hs_token, load_event
from hypothesis import given
from hypothesis import strategies as st

from ws_bridge import aws

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


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JUNK


def bodies() -> st.SearchStrategy[Any]:
    objects = st.dictionaries(
        st.sampled_from(["type", "action", "sessionId", "userId", "connectionId", "x"]),
        JSON | st.sampled_from(["ping", "command"]),
        max_size=5,
    )
    return st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        objects.map(json.dumps),
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


def test_handler_never_raises_and_always_answers_well_formed(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No AWS at all: DynamoDB calls fail fast, as an outage would.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    aws.reset_clients()
    server.default = Reply(200, {"type": "ok"})
    module = load_handler(
        CONNECTIONS_TABLE="t", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="0.5"
    )

    @given(event=events(st.just(hs_token()) | st.text(max_size=40)))
    def check(event: Any) -> None:
        response = module.handler(event, None)
        assert isinstance(response, dict)
        assert set(response) <= {"statusCode", "body", "headers"}
        assert isinstance(response["statusCode"], int)
        assert 200 <= response["statusCode"] <= 599
        assert isinstance(response["body"], str)
        info = module.RequestInfo.from_event(event if isinstance(event, dict) else {})
        if info.kind == "message":
            reply = json.loads(response["body"])
            assert isinstance(reply, dict)
            assert reply.get("type") in {"ok", "pong", "error"}
            if reply["type"] == "error":
                assert set(reply) == {"type", "error", "message", "requestId"}
                assert reply["error"] in module.ERRORS

    check()


def test_authorizer_answers_a_policy_or_unauthorized(
    load_authorizer: Callable[..., ModuleType], secret_arn: str
) -> None:
    module = load_authorizer(JWT_SECRET_ARN=secret_arn)
    good = hs_token()
    tokens = st.sampled_from([good, good + "x", hs_token(exp=1), "a.b.c"]) | st.text(max_size=40)

    @given(event=events(tokens))
    def check(event: Any) -> None:
        failure: Exception | None = None
        try:
            answer = module.handler(event, None)
        except Exception as exc:  # noqa: BLE001 - the property is about what escapes
            failure = exc
        if failure is not None:
            assert type(failure) is Exception
            assert str(failure) == "Unauthorized"
            return
        assert isinstance(answer, dict)
        assert isinstance(answer["principalId"], str)
        (statement,) = answer["policyDocument"]["Statement"]
        assert statement["Effect"] in {"Allow", "Deny"}
        assert statement["Action"] == "execute-api:Invoke"
        if statement["Effect"] == "Allow":
            assert set(answer["context"]) == {"userId", "sessionId", "sessionSource"}
            assert all(isinstance(v, str) for v in answer["context"].values())
            assert answer["context"]["userId"] == "user-1"

    check()
