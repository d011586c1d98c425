"""One rule for when a token has expired, in the authorizer and in the connection handler:
from its ``exp`` on (``now >= exp``, whole seconds), whatever ``JWT_LEEWAY_SECONDS`` (which
allows for clock skew on ``nbf`` and ``iat`` only). A token the authorizer lets in is one
the handler takes messages with, up to the same second, and a message arriving exactly at
``exp`` is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from bridge_fakes import PATIENT_TIMEOUT, SECRET, FakeServer, Reply, hs_token, load_event, untraced

from ws_bridge import backend_client
from ws_bridge.events import RequestInfo
from ws_bridge.jwt_verifier import InvalidTokenError, TokenVerifier
from ws_bridge.settings import AuthorizerSettings

EXP = 1_900_000_000


def verifier(now: float, **settings: Any) -> TokenVerifier:
    return TokenVerifier(
        AuthorizerSettings(secret_arn="arn:unused", **settings),
        secret_loader=lambda _settings: SECRET.encode(),
        wall_clock=lambda: now,
    )


def refused(verifier: TokenVerifier, token: str) -> str | None:
    try:
        verifier.verify(token)
    except InvalidTokenError as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("leeway", [0, 30, 300])
def test_the_authorizer_refuses_a_token_from_its_exp_whatever_the_leeway(leeway: int) -> None:
    token = hs_token(exp=EXP, iat=None)
    assert refused(verifier(EXP - 0.001, leeway_seconds=leeway), token) is None
    assert refused(verifier(EXP, leeway_seconds=leeway), token) == "expired"
    assert refused(verifier(EXP + 1, leeway_seconds=leeway), token) == "expired"


def test_the_leeway_still_allows_for_skew_on_nbf_and_iat() -> None:
    # PyJWT checks nbf and iat with its own clock (the real one): so does this case.
    now = time.time()
    token = hs_token(exp=int(now) + 60, nbf=int(now) + 20, iat=int(now) + 20)
    assert refused(verifier(now, leeway_seconds=30), token) is None
    assert refused(verifier(now, leeway_seconds=0), token) == "not_yet_valid"


def test_a_fractional_exp_counts_from_its_whole_second() -> None:
    """The authorizer passes exp on as whole seconds; the handler refuses from there, so
    the authorizer must too."""
    token = hs_token(exp=EXP + 0.9, iat=None)
    assert refused(verifier(EXP - 0.5), token) is None
    assert refused(verifier(EXP + 0.2), token) == "expired"


@pytest.mark.parametrize("exp", ["2000000000", True], ids=["string", "boolean"])
def test_an_exp_that_is_not_a_number_is_refused(exp: Any) -> None:
    """PyJWT would take the string as a number: the handler would then never expire it."""
    assert refused(verifier(EXP - 100), hs_token(iat=None, exp=exp)) == "invalid_exp"


# ---------------------------------------------------------------------------- the handler


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType], server: FakeServer) -> ModuleType:
    server.reply("POST", "/api/ws/message", Reply(200, {"type": "ok"}))
    return load_handler(
        CONNECTIONS_TABLE="unused", BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS=PATIENT_TIMEOUT
    )


def message_at(handler: ModuleType, now: float, body: Any) -> tuple[dict[str, Any], list[str]]:
    """The handler's answer to ``body`` arriving at ``now`` on a connection whose token's
    exp is EXP, and what it sent before closing the connection (if it did)."""
    event = load_event("message")
    event["body"] = json.dumps(body)
    event["requestContext"]["authorizer"]["exp"] = str(EXP)
    closed: list[str] = []
    answer = handler.message(
        event,
        RequestInfo.from_event(event),
        handler.SETTINGS,
        backend_client.pool(),
        now=lambda: now,
        close=lambda _info, farewell: closed.append(farewell),
    )
    return answer, closed


def test_a_message_exactly_at_exp_is_refused_and_names_its_request(handler: ModuleType) -> None:
    answer, closed = message_at(handler, EXP - 0.001, {"type": "command", "id": "c.7"})
    assert untraced(answer) == {"type": "ok"}
    assert closed == []
    answer, closed = message_at(handler, EXP, {"type": "command", "id": "c.7"})
    reply = json.loads(answer["body"])
    assert (answer["statusCode"], reply["error"], reply["id"]) == (401, "token_expired", "c.7")
    assert "seq" not in reply
    assert closed == [answer["body"]]  # told why, then closed


def test_a_warm_ping_exactly_at_exp_takes_the_general_path(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path answers pings without the general path's checks; at exp it must leave
    the ping to them (which refuse it: the test above)."""
    event = load_event("message")
    event["body"] = '{"type":"ping"}'
    event["requestContext"]["authorizer"]["exp"] = str(EXP)
    monkeypatch.setattr(time, "time", lambda: EXP - 0.001)
    assert handler._fast_ping(event) is not None
    monkeypatch.setattr(time, "time", lambda: float(EXP))
    assert handler._fast_ping(event) is None
    answer, closed = message_at(handler, EXP, {"type": "ping"})
    assert (json.loads(answer["body"])["error"], len(closed)) == ("token_expired", 1)


@pytest.mark.parametrize("now", [EXP - 1.5, EXP - 0.5, EXP - 0.001, EXP, EXP + 0.5])
def test_the_authorizer_and_the_handler_agree_to_the_second(
    handler: ModuleType, now: float
) -> None:
    token = hs_token(exp=EXP + 0.25, iat=None)
    admitted = refused(verifier(now, leeway_seconds=300), token) is None
    answer, _ = message_at(handler, now, {"type": "command", "id": "c.1"})
    assert admitted == (answer["statusCode"] == 200)
