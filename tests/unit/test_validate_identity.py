"""$connect tells the backend who is connecting, and the registry keeps the token's expiry:
the validate call's signed body is the identity the authorizer verified (a backend never
parses the JWT), and the record's ``tokenExpiresAt`` lets a push close a connection whose
token has expired."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from bridge_fakes import FakeServer, Reply, hs_token, load_event, scan, set_query

CONNECTION_ID = "R0oXAdfD0kwCH6w="
VALIDATE = "/api/labs/session/sess-1/validate"


def connect(module: ModuleType, **authorizer: str) -> dict[str, object]:
    event = set_query(load_event("connect"), token=hs_token())
    event["requestContext"]["authorizer"].update(authorizer)
    response: dict[str, object] = module.handler(event, None)
    return response


def test_validate_carries_the_verified_identity_and_the_record_the_token_s_expiry(
    load_handler: Callable[..., ModuleType], server: FakeServer, table: str
) -> None:
    module = load_handler(CONNECTIONS_TABLE=table, BACKEND_URL=server.url)
    server.reply("POST", VALIDATE, Reply(200, {"valid": True}))
    assert connect(module, exp="1900000000", sessionSource="query")["statusCode"] == 200
    (call,) = server.seen()
    assert call.headers["X-Connection-Id"] == CONNECTION_ID
    assert call.json() == {
        "connectionId": CONNECTION_ID,
        "sessionId": "sess-1",
        "userId": "user-1",
        "sessionSource": "query",
        "tokenExpiresAt": 1900000000,
    }
    assert scan()[CONNECTION_ID]["tokenExpiresAt"] == 1900000000


def test_a_token_without_exp_leaves_the_expiry_out(
    load_handler: Callable[..., ModuleType], server: FakeServer, table: str
) -> None:
    module = load_handler(CONNECTIONS_TABLE=table, BACKEND_URL=server.url)
    server.reply("POST", VALIDATE, Reply(200, {}))
    assert connect(module)["statusCode"] == 200
    (call,) = server.seen()
    assert call.json()["tokenExpiresAt"] is None
    assert "tokenExpiresAt" not in scan()[CONNECTION_ID]
