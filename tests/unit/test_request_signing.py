"""The handler's side of request signing: its key (cached, re-read, switched to a new version
only once verifiers have had time to read it), every backend call signed (v2, over
X-Connection-Id and Authorization) and verifiable by the backend SDK, and a backend that
refuses the signature reported as a server-side fault."""

from __future__ import annotations

import datetime
import inspect
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from bridge_fakes import REGION, FakeServer, Reply, hs_token, load_event, set_query

from ws_bridge import backend_client
from ws_bridge.backend_client import Outcome
from ws_bridge.json_codec import encode_json
from ws_bridge.settings import HandlerSettings
from ws_bridge.signing_key import SigningKey, SigningKeyUnavailableError
from ws_bridge_backend.calls import BridgeGate
from ws_bridge_backend.verifier import RequestVerifier, SignatureError

KEY = b"signing-key-0123456789-0123456789-abcdef"
OLD_KEY = b"previous-key-0123456789-0123456789-abcde"
CREATED = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Secrets:
    """Secrets Manager as the handler reads it: AWSCURRENT (created at ``created``) and,
    after a rotation, AWSPREVIOUS; counts calls; can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.current: tuple[str, float] = (KEY.decode(), CREATED)
        self.previous: str | None = None
        self.failing = False

    def get_secret_value(self, SecretId: str, VersionStage: str = "AWSCURRENT") -> Any:
        from botocore.exceptions import ClientError, EndpointConnectionError

        self.calls += 1
        if self.failing:
            raise EndpointConnectionError(endpoint_url="https://secretsmanager")
        if VersionStage == "AWSPREVIOUS":
            if self.previous is None:
                error = {"Error": {"Code": "ResourceNotFoundException"}}
                raise ClientError(error, "GetSecretValue")  # type: ignore[arg-type]
            return {"SecretString": self.previous}
        value, created = self.current
        return {
            "SecretString": value,
            "CreatedDate": datetime.datetime.fromtimestamp(created, datetime.UTC),
        }

    def rotate(self, value: bytes, at: float) -> None:
        self.previous = self.current[0]
        self.current = (value.decode(), at)


def signing_key(secrets: Secrets, clock: Clock, wall: Clock, **options: Any) -> SigningKey:
    return SigningKey(
        "arn",
        refresh_seconds=options.pop("refresh_seconds", 300),
        secretsmanager=lambda: secrets,
        clock=clock,
        wall_clock=wall,
        **options,
    )


def test_the_key_is_cached_then_re_read_after_its_refresh_time() -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1000)
    key = signing_key(secrets, clock, wall)
    assert key.get() == KEY
    secrets.current = (OLD_KEY.decode(), CREATED - 5000)
    clock.now = 299
    assert key.get() == KEY
    assert secrets.calls == 1
    clock.now = 300
    assert key.get() == OLD_KEY
    assert secrets.calls == 2


def test_a_new_key_is_used_only_once_it_is_refresh_seconds_old() -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1000)
    key = signing_key(secrets, clock, wall, refresh_seconds=60)
    assert key.get() == KEY
    rotated_at = wall.now + 10
    secrets.rotate(OLD_KEY, rotated_at)  # OLD_KEY is the new version here
    clock.now, wall.now = 60, rotated_at + 1
    assert key.get() == KEY  # read, but too young: verifiers may not have it yet
    wall.now = rotated_at + 60.9  # a second of margin for clocks and CreatedDate's precision
    assert key.get() == KEY
    wall.now = rotated_at + 61
    assert key.get() == OLD_KEY  # no new read needed: both were read at once
    assert secrets.calls == 1 + 2


def test_a_young_key_without_a_previous_one_is_used_at_once() -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1)  # a secret just created
    assert signing_key(secrets, clock, wall).get() == KEY


def test_a_failed_re_read_keeps_the_last_key_and_retries_later() -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1000)
    key = signing_key(secrets, clock, wall, retry_seconds=5)
    key.get()
    secrets.failing = True
    clock.now = 400
    assert key.get() == KEY
    clock.now = 404
    assert key.get() == KEY
    assert secrets.calls == 2  # not asked again before retry_seconds
    secrets.failing = False
    secrets.current = (OLD_KEY.decode(), CREATED)
    clock.now = 406
    assert key.get() == OLD_KEY


def test_without_any_key_reads_are_rate_limited_then_retried() -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1000)
    secrets.failing = True
    key = signing_key(secrets, clock, wall, retry_seconds=5)
    for _ in range(3):
        with pytest.raises(SigningKeyUnavailableError):
            key.get()
    assert secrets.calls == 1
    secrets.failing = False
    clock.now = 5
    assert key.get() == KEY  # the same object recovers: a failure is not kept forever


@pytest.mark.parametrize("value", ["short", "x" * 31], ids=["short", "31-bytes"])
def test_a_key_shorter_than_32_bytes_is_never_used(value: str) -> None:
    secrets, clock, wall = Secrets(), Clock(), Clock(CREATED + 1000)
    secrets.current = (value, CREATED)
    with pytest.raises(SigningKeyUnavailableError, match="at least 32 bytes"):
        signing_key(secrets, clock, wall).get()


# ---------------------------------------------------------------------------- the calls


@pytest.fixture
def signing_secret(moto: None) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name="backend-signing", SecretString=KEY.decode())["ARN"]


def settings_for(server: FakeServer, secret: str | None) -> HandlerSettings:
    return HandlerSettings(
        connections_table="t", backend_url=server.url, backend_signing_secret_arn=secret
    )


IDENTITY = {
    "connectionId": "Kx1=",
    "sessionId": "lab@1",
    "userId": "alice",
    "sessionSource": "query",
    "tokenExpiresAt": 1_900_000_000,
}


def test_every_backend_call_is_signed_and_verifies(server: FakeServer, signing_secret: str) -> None:
    settings = settings_for(server, signing_secret)
    server.default = Reply(200, {"type": "ok"})
    http = backend_client.pool()
    assert backend_client.validate_session(http, settings, IDENTITY, "tok").ok
    assert backend_client.forward_body(
        http, settings, "Kx1=", encode_json({"type": "x", "n": "é"})
    ).ok
    assert backend_client.notify_disconnect(http, settings, {"connectionId": "Kx1="}).ok
    seen = server.seen()
    assert [call.method for call in seen] == ["POST", "POST", "POST"]
    assert seen[0].path == "/api/labs/session/lab%401/validate"
    assert json.loads(seen[0].body) == IDENTITY
    check = RequestVerifier([KEY])
    signed = [check.verify(c.method, c.path.split("?")[0], c.headers, c.body) for c in seen]
    assert signed[0].headers == {"authorization": "Bearer tok", "x-connection-id": "Kx1="}
    assert [s.headers for s in signed[1:]] == [{"x-connection-id": "Kx1="}] * 2
    # What a forger would send (no key) and what a replay would send are both refused.
    unsigned = {k: v for k, v in seen[1].headers.items() if not k.startswith("X-Bridge")}
    with pytest.raises(SignatureError, match="missing_headers"):
        check.verify("POST", seen[1].path, unsigned, seen[1].body)
    with pytest.raises(SignatureError, match="replayed"):
        check.verify("POST", seen[1].path, seen[1].headers, seen[1].body)


def test_the_sdk_gate_hands_a_backend_the_validate_call_s_identity(
    server: FakeServer, signing_secret: str
) -> None:
    server.default = Reply(200, {})
    backend_client.validate_session(
        backend_client.pool(), settings_for(server, signing_secret), IDENTITY, "tok"
    )
    (call,) = server.seen()
    found = BridgeGate(RequestVerifier([KEY])).check(
        call.method, call.path, call.headers, call.body
    )
    assert found is not None
    assert (found.kind, found.connection_id, found.session_id, found.user_id) == (
        "validate",
        "Kx1=",
        "lab@1",
        "alice",
    )
    assert (found.token_expires_at, found.session_source) == (1_900_000_000, "query")


def test_without_a_secret_arn_nothing_is_signed(server: FakeServer) -> None:
    server.default = Reply(200, {"type": "ok"})
    backend_client.forward_body(backend_client.pool(), settings_for(server, None), "c", b"{}")
    (call,) = server.seen()
    assert not any(name.lower().startswith("x-bridge") for name in call.headers)


def test_no_signing_key_means_no_request_and_no_fail_open(
    load_handler: Callable[..., ModuleType], server: FakeServer, table: str
) -> None:
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:absent-AbCdEf"
    module = load_handler(
        CONNECTIONS_TABLE=table,
        BACKEND_URL=server.url,
        BACKEND_FAIL_OPEN="true",
        BACKEND_SIGNING_SECRET_ARN=missing,
    )
    event = set_query(load_event("connect"), token=hs_token())
    response = module.handler(event, None)
    assert (response["statusCode"], response["body"]) == (502, '{"error":"backend_unavailable"}')
    message = load_event("message")
    message["body"] = '{"type":"command"}'
    assert '"backend_unavailable"' in module.handler(message, None)["body"]
    assert server.seen() == []
    result = backend_client.forward_body(
        backend_client.pool(), module.SETTINGS, "c", b'{"type":"x"}'
    )
    assert result.outcome is Outcome.NOT_SIGNED


def test_a_backend_refusing_the_signature_is_a_server_fault_with_a_reason_in_the_log(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    table: str,
    signing_secret: str,
    captured_logs: Callable[[], str],
) -> None:
    module = load_handler(
        CONNECTIONS_TABLE=table,
        BACKEND_URL=server.url,
        BACKEND_FAIL_OPEN="true",  # never applies: the backend answered
        BACKEND_SIGNING_SECRET_ARN=signing_secret,
        BACKEND_SIGNING_KEY_REFRESH_SECONDS="30",
    )
    server.default = Reply(401, {"error": "bad_request_signature"})
    captured_logs()
    response = module.handler(set_query(load_event("connect"), token=hs_token()), None)
    assert (response["statusCode"], json.loads(response["body"])) == (
        502,
        {"error": "backend_signature_refused"},
    )
    message = load_event("message")
    message["body"] = '{"type":"command"}'
    reply = module.handler(message, None)
    assert (reply["statusCode"], json.loads(reply["body"])["error"]) == (502, "backend_error")
    lines = [json.loads(line) for line in captured_logs().splitlines() if line.startswith("{")]
    refusals = [
        line
        for line in lines
        if "refused the handler's request signature" in line.get("message", "")
    ]
    assert len(refusals) == 2
    assert {line["level"] for line in refusals} == {"ERROR"}
    assert refusals[0]["secretArn"] == signing_secret
    assert refusals[0]["keyRefreshSeconds"] == 30
    assert "BACKEND_SIGNING_SECRET_ARN" in refusals[0]["message"]


def test_re_reads_are_timed_on_the_wall_clock_which_a_frozen_container_keeps() -> None:
    # Lambda freezes a container between invocations; a monotonic clock need not advance
    # meanwhile, and a key re-read timed on it could wait for ever.
    assert inspect.signature(SigningKey).parameters["clock"].default is time.time


def test_a_clock_that_went_back_reads_the_key_again() -> None:
    secrets, clock, wall = Secrets(), Clock(10_000), Clock(CREATED + 1000)
    key = signing_key(secrets, clock, wall)
    assert key.get() == KEY
    secrets.current = (OLD_KEY.decode(), CREATED - 5000)
    clock.now = 10_000 - 3600  # an hour back: the next read would be due in 65 minutes
    assert key.get() == OLD_KEY
    assert secrets.calls == 2
