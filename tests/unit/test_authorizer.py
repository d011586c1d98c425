"""The REQUEST authorizer entry point: Allow / Deny (403) / "Unauthorized" (401)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jwt
import pytest
from bridge_fakes import (
    SECRET,
    b64url,
    hs_token,
    load_event,
    log_records,
    raw_token,
    set_header,
    set_query,
)

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/$connect"


@pytest.fixture
def authorizer(load_authorizer: Callable[..., ModuleType], secret_arn: str) -> ModuleType:
    return load_authorizer(JWT_SECRET_ARN=secret_arn)


def tampered(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url(b'{"sub":"admin","exp":2147483647}')}.{signature}"


def request(token: str | None = None, **query: str) -> dict[str, Any]:
    event = load_event("authorizer_request")
    if token is not None:
        set_query(event, token=token)
    if query:
        set_query(event, **query)
    return event


def statement(answer: dict[str, Any]) -> dict[str, Any]:
    statements = answer["policyDocument"]["Statement"]
    assert answer["policyDocument"]["Version"] == "2012-10-17"
    assert len(statements) == 1
    assert statements[0]["Action"] == "execute-api:Invoke"
    assert statements[0]["Resource"] == METHOD_ARN
    result: dict[str, Any] = statements[0]
    return result


def assert_allowed(answer: dict[str, Any], user: str, session: str, source: str) -> None:
    assert statement(answer)["Effect"] == "Allow"
    assert answer["principalId"] == user
    context = dict(answer["context"])
    assert context.pop("exp").isdigit()  # the token's expiry, checked below
    assert context == {"userId": user, "sessionId": session, "sessionSource": source}
    assert all(isinstance(value, str) for value in answer["context"].values())


def assert_denied(answer: dict[str, Any]) -> None:
    assert statement(answer)["Effect"] == "Deny"
    assert "context" not in answer


def assert_unauthorized(authorizer: ModuleType, event: Any) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as caught:
        authorizer.handler(event, None)
    assert type(caught.value) is Exception  # the plain exception API Gateway maps to 401


def test_query_token_is_allowed_with_session_from_the_token(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sub="alice", sessionId="lab-7")), None)
    assert_allowed(answer, "alice", "lab-7", "token")


def test_authorization_header(authorizer: ModuleType) -> None:
    event = set_header(request(), "Authorization", f"Bearer {hs_token()}")
    assert_allowed(authorizer.handler(event, None), "user-1", "sess-1", "token")


def test_websocket_protocol_header(authorizer: ModuleType) -> None:
    event = set_header(request(), "Sec-WebSocket-Protocol", f"bearer, {hs_token()}")
    assert_allowed(authorizer.handler(event, None), "user-1", "sess-1", "token")


def test_same_token_in_two_sources_is_fine(authorizer: ModuleType) -> None:
    token = hs_token()
    event = set_header(request(token), "Authorization", f"Bearer {token}")
    assert_allowed(authorizer.handler(event, None), "user-1", "sess-1", "token")


@pytest.mark.parametrize(
    ("header", "template"),
    [
        ("Authorization", "Bearer {}"),
        ("Sec-WebSocket-Protocol", "bearer, {}"),
    ],
)
def test_disagreeing_sources_are_denied(authorizer: ModuleType, header: str, template: str) -> None:
    event = set_header(request(hs_token(sub="alice")), header, template.format(hs_token(sub="bob")))
    assert_denied(authorizer.handler(event, None))


def test_two_query_tokens_that_differ_are_denied(authorizer: ModuleType) -> None:
    event = load_event("authorizer_request")
    set_query(event, token=[hs_token(sub="alice"), hs_token(sub="bob")])
    assert_denied(authorizer.handler(event, None))


def test_session_from_the_query_when_the_token_has_none(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sessionId=None), sessionId="lab-9"), None)
    assert_allowed(answer, "user-1", "lab-9", "query")


def test_no_session_anywhere_gives_an_empty_session(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sessionId=None)), None)
    assert_allowed(answer, "user-1", "", "")


def test_matching_query_session_is_allowed(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sessionId="s-1"), sessionId="s-1"), None)
    assert_allowed(answer, "user-1", "s-1", "token")


def test_token_for_another_session_is_denied(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sessionId="s-1"), sessionId="s-2"), None)
    assert_denied(answer)


def test_the_context_carries_the_token_expiry_as_digits(authorizer: ModuleType) -> None:
    expires = int(time.time()) + 123
    answer = authorizer.handler(request(hs_token(exp=expires)), None)
    assert answer["context"]["exp"] == str(expires)


def test_oversized_query_session_is_denied(authorizer: ModuleType) -> None:
    answer = authorizer.handler(request(hs_token(sessionId=None), sessionId="s" * 129), None)
    assert_denied(answer)
    answer = authorizer.handler(request(hs_token(sessionId=None), sessionId="s" * 128), None)
    assert answer["context"]["sessionId"] == "s" * 128


@pytest.mark.parametrize(
    "session_id", ["..", ".", "a/b", "../admin", "a b", "a?b", "a#b", "a%2Fb", ".x", "é"]
)
def test_a_query_session_that_could_change_a_path_is_denied(
    authorizer: ModuleType, session_id: str
) -> None:
    # "?sessionId=.." once turned the validate call into GET /api/labs/validate.
    assert_denied(authorizer.handler(request(hs_token(sessionId=None), sessionId=session_id), None))


@pytest.mark.parametrize("claim", ["sub", "sessionId"])
@pytest.mark.parametrize("value", ["..", "a/b", "x" * 129])
def test_a_token_id_that_could_change_a_path_is_unauthorized(
    authorizer: ModuleType, claim: str, value: str
) -> None:
    assert_unauthorized(authorizer, request(hs_token(**{claim: value})))


@pytest.mark.parametrize(
    "user_id", ["auth0|5f7c8ec7c33c6c004bbafe82", "eu-west-1:7d5c1e2a-0b9f", "a.b@example.com"]
)
def test_ids_of_common_identity_providers_are_accepted(
    authorizer: ModuleType, user_id: Any
) -> None:
    answer = authorizer.handler(request(hs_token(sub=user_id)), None)
    assert answer["context"]["userId"] == user_id


def test_missing_token_is_unauthorized(authorizer: ModuleType) -> None:
    assert_unauthorized(authorizer, request())
    assert_unauthorized(authorizer, set_header(request(), "Authorization", "Bearer "))


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: hs_token(exp=int(time.time()) - 600), id="expired"),
        pytest.param(lambda: hs_token(nbf=int(time.time()) + 600), id="not-yet-valid"),
        pytest.param(lambda: hs_token("a-different-secret-of-sufficient-length!!"), id="forged"),
        pytest.param(
            lambda: raw_token({"alg": "none"}, {"sub": "admin", "exp": 2**31}, None), id="alg-none"
        ),
        pytest.param(
            lambda: tampered(hs_token()),
            id="tampered",
        ),
        pytest.param(lambda: hs_token(sub=None), id="no-user-claim"),
        pytest.param(lambda: hs_token(sub=""), id="empty-user-claim"),
        pytest.param(lambda: hs_token(exp=None), id="no-exp"),
        pytest.param(lambda: hs_token(sessionId=["a", "b"]), id="bad-session-claim"),
        pytest.param(lambda: hs_token(blob="x" * 9000), id="oversized"),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
    ],
)
def test_invalid_tokens_are_unauthorized(
    authorizer: ModuleType, make_token: Callable[[], str]
) -> None:
    assert_unauthorized(authorizer, request(make_token()))


def test_issuer_and_audience(load_authorizer: Callable[..., ModuleType], secret_arn: str) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN=secret_arn, JWT_ISSUER="https://id.example.com/", JWT_AUDIENCE="labs"
    )
    good = hs_token(iss="https://id.example.com/", aud="labs")
    assert_allowed(authorizer.handler(request(good), None), "user-1", "sess-1", "token")
    assert_unauthorized(authorizer, request(hs_token(iss="https://evil.example.com/", aud="labs")))
    assert_unauthorized(authorizer, request(hs_token(iss="https://id.example.com/", aud="ops")))


def test_secret_from_ssm(load_authorizer: Callable[..., ModuleType], secret_parameter: str) -> None:
    authorizer = load_authorizer(JWT_SECRET_PARAMETER=secret_parameter)
    assert_allowed(authorizer.handler(request(hs_token()), None), "user-1", "sess-1", "token")


def test_custom_claims(load_authorizer: Callable[..., ModuleType], secret_arn: str) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN=secret_arn, JWT_USER_CLAIM="uid", JWT_SESSION_CLAIM="lab"
    )
    answer = authorizer.handler(request(hs_token(uid=42, lab="L-1")), None)
    assert_allowed(answer, "42", "L-1", "token")


@pytest.mark.parametrize(
    ("source_ip", "allowed"),
    [
        ("203.0.113.10", True),
        ("10.1.2.3", True),
        ("2001:db8::1", True),
        ("198.51.100.7", False),
        ("2001:db9::1", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_source_cidr_allow_list(
    load_authorizer: Callable[..., ModuleType],
    secret_arn: str,
    source_ip: str | None,
    allowed: bool,
) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN=secret_arn,
        ALLOWED_SOURCE_CIDRS="203.0.113.0/24,10.0.0.0/8,2001:db8::/32",
    )
    event = request(hs_token())
    if source_ip is None:
        del event["requestContext"]["identity"]["sourceIp"]
    else:
        event["requestContext"]["identity"]["sourceIp"] = source_ip
    answer = authorizer.handler(event, None)
    if allowed:
        assert_allowed(answer, "user-1", "sess-1", "token")
    else:
        assert_denied(answer)


def test_outside_the_allow_list_is_denied_even_without_a_token(
    load_authorizer: Callable[..., ModuleType], secret_arn: str
) -> None:
    authorizer = load_authorizer(JWT_SECRET_ARN=secret_arn, ALLOWED_SOURCE_CIDRS="10.0.0.0/8")
    assert_denied(authorizer.handler(request(), None))


def test_unreadable_secret_is_a_server_fault_not_a_refusal(
    load_authorizer: Callable[..., ModuleType], moto: None, captured_logs: Callable[[], str]
) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf"
    )
    captured_logs()
    # Any exception but Exception("Unauthorized") is API Gateway's 500: retry later. Nothing
    # is allowed, and a fine token is not called bad (401) or forbidden (403).
    with pytest.raises(authorizer.KeyFetchError) as caught:
        authorizer.handler(request(hs_token()), None)
    assert str(caught.value) != "Unauthorized"
    (line,) = log_records(captured_logs())
    assert (line["message"], line["decision"]) == ("verification key unavailable", "500")


def test_unexpected_failure_fails_closed(
    authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(authorizer, "authorize", explode)
    assert_denied(authorizer.handler(request(hs_token()), None))


@pytest.mark.parametrize("event", [None, [], {}, {"requestContext": "x", "headers": [1]}])
def test_malformed_events_never_raise_anything_but_unauthorized(
    authorizer: ModuleType, event: Any
) -> None:
    assert_unauthorized(authorizer, event)


def test_log_lines_hold_no_token_and_no_secret(
    authorizer: ModuleType, captured_logs: Callable[[], str]
) -> None:
    tokens = [hs_token(sub="alice"), hs_token(exp=int(time.time()) - 600), "garbage-token-xyz"]
    authorizer.handler(request(tokens[0]), None)
    for token in tokens[1:]:
        with pytest.raises(Exception, match="Unauthorized"):
            authorizer.handler(request(token), None)
    conflict = set_header(request(tokens[0]), "Authorization", f"Bearer {hs_token(sub='bob')}")
    authorizer.handler(conflict, None)

    text = captured_logs()
    records = log_records(text)
    assert [r["message"] for r in records] == [
        "connect allowed",
        "connect unauthorized",
        "connect unauthorized",
        "connect denied",
    ]
    assert {r["reason"] for r in records[1:]} == {"expired", "malformed", "conflicting_tokens"}
    for record in records:
        assert record["connectionId"] == "R0oXAdfD0kwCH6w="
        assert record["requestId"] == "Rk1aZFqKDoEFcWw="
        assert record["routeKey"] == "$connect"
    assert SECRET not in text
    for token in tokens:
        for part in token.split("."):
            assert part not in text
    assert jwt.get_unverified_header(tokens[0])  # the tokens were real JWTs
