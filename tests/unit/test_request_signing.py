"""Signing the handler's backend requests, and the verifier backends import."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from bridge_fakes import REGION, FakeServer, Reply, hs_token, load_event, set_query

from ws_bridge import backend_client
from ws_bridge.backend_client import Outcome
from ws_bridge.request_signing import (
    RequestVerifier,
    SignatureError,
    SigningKey,
    SigningKeyUnavailableError,
    load_verification_keys,
    sign_request,
)
from ws_bridge.settings import HandlerSettings

KEY = b"signing-key-0123456789-0123456789-abcdef"
OLD_KEY = b"previous-key-0123456789-0123456789-abcde"
NOW = 1_800_000_000.0
NONCE = "0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(*keys: bytes, clock: Clock | None = None, **options: Any) -> RequestVerifier:
    return RequestVerifier(keys or (KEY,), clock=clock or Clock(), **options)


def reason(check: RequestVerifier, method: str, path: str, headers: Any, body: bytes) -> str:
    with pytest.raises(SignatureError) as caught:
        check.verify(method, path, headers, body)
    return caught.value.reason


def test_the_signature_is_hmac_sha256_over_the_documented_canonical_form() -> None:
    headers = sign_request(KEY, "post", "/api/ws/message", b'{"a":1}', now=NOW, nonce=NONCE)
    canonical = "\n".join(
        [
            "v1",
            "POST",
            "/api/ws/message",
            "1800000000",
            NONCE,
            hashlib.sha256(b'{"a":1}').hexdigest(),
        ]
    )
    expected = hmac.new(KEY, canonical.encode(), hashlib.sha256).hexdigest()
    assert headers == {
        "X-Bridge-Timestamp": "1800000000",
        "X-Bridge-Nonce": NONCE,
        "X-Bridge-Signature": f"v1={expected}",
    }
    fresh = sign_request(KEY, "GET", "/x")
    assert len(fresh["X-Bridge-Nonce"]) == 32
    assert fresh["X-Bridge-Nonce"] != sign_request(KEY, "GET", "/x")["X-Bridge-Nonce"]


def test_a_signed_request_passes_once_and_header_names_are_case_insensitive() -> None:
    check = verifier()
    headers = sign_request(KEY, "POST", "/m", b"{}", now=NOW)
    check.verify("POST", "/m", {name.lower(): value for name, value in headers.items()}, b"{}")
    assert reason(check, "POST", "/m", headers, b"{}") == "replayed"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/m", b"{}"), ("POST", "/other", b"{}"), ("POST", "/m", b'{"userId":"x"}')],
    ids=["method", "path", "body"],
)
def test_any_change_breaks_the_signature(method: str, path: str, body: bytes) -> None:
    headers = sign_request(KEY, "POST", "/m", b"{}", now=NOW)
    assert reason(verifier(), method, path, headers, body) == "bad_signature"


def test_a_signature_by_another_key_is_refused() -> None:
    headers = sign_request(b"someone-else-0123456789-0123456789-abcd", "GET", "/v", now=NOW)
    assert reason(verifier(), "GET", "/v", headers, b"") == "bad_signature"


def test_both_keys_of_a_rotation_are_accepted() -> None:
    check = verifier(KEY, OLD_KEY)
    check.verify("GET", "/v", sign_request(OLD_KEY, "GET", "/v", now=NOW), b"")
    check.verify("GET", "/v", sign_request(KEY, "GET", "/v", now=NOW), b"")


def test_keys_may_come_from_a_callable_asked_on_each_request() -> None:
    current = [KEY]
    check = RequestVerifier(lambda: current, clock=Clock())
    headers = sign_request(OLD_KEY, "GET", "/v", now=NOW)
    assert reason(check, "GET", "/v", headers, b"") == "bad_signature"
    current.append(OLD_KEY)
    check.verify("GET", "/v", headers, b"")


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_outside_the_window_is_stale(skew: int) -> None:
    headers = sign_request(KEY, "GET", "/v", now=NOW + skew)
    assert reason(verifier(), "GET", "/v", headers, b"") == "stale"
    verifier().verify("GET", "/v", sign_request(KEY, "GET", "/v", now=NOW + skew * 299 // 301), b"")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"X-Bridge-Signature": None}, "missing_headers"),
        ({"X-Bridge-Nonce": None}, "missing_headers"),
        ({"X-Bridge-Timestamp": "1.8e9"}, "bad_timestamp"),
        ({"X-Bridge-Timestamp": "-1"}, "bad_timestamp"),
        ({"X-Bridge-Nonce": "G" * 32}, "bad_nonce"),
        ({"X-Bridge-Signature": "v2=" + "0" * 64}, "bad_signature_format"),
        ({"X-Bridge-Signature": "v1=" + "A" * 64}, "bad_signature_format"),
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str | None], expected: str) -> None:
    headers: dict[str, str] = sign_request(KEY, "GET", "/v", now=NOW)
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    assert reason(verifier(), "GET", "/v", headers, b"") == expected


def test_the_nonce_memory_is_bounded_and_forgets_after_the_window() -> None:
    clock = Clock()
    check = verifier(clock=clock, max_nonces=2)
    for _ in range(2):
        check.verify("GET", "/v", sign_request(KEY, "GET", "/v", now=clock.now), b"")
    full = sign_request(KEY, "GET", "/v", now=clock.now)
    assert reason(check, "GET", "/v", full, b"") == "replay_cache_full"
    clock.now += 601  # both remembered nonces can no longer pass the window: forgotten
    check.verify("GET", "/v", sign_request(KEY, "GET", "/v", now=clock.now), b"")


def test_a_forged_request_does_not_use_up_nonce_memory() -> None:
    check = verifier(max_nonces=1)
    forged = sign_request(b"forger-key-0123456789-0123456789-abcdefg", "GET", "/v", now=NOW)
    for _ in range(3):
        assert reason(check, "GET", "/v", forged, b"") == "bad_signature"
    check.verify("GET", "/v", sign_request(KEY, "GET", "/v", now=NOW), b"")


# ---------------------------------------------------------------------------- keys


def test_verification_keys_are_awscurrent_and_awsprevious(moto: None) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="signing", SecretString=OLD_KEY.decode())["ARN"]
    assert load_verification_keys(arn, secretsmanager=client) == [OLD_KEY]
    client.put_secret_value(SecretId=arn, SecretString=KEY.decode())  # a rotation
    assert load_verification_keys(arn, secretsmanager=client) == [KEY, OLD_KEY]


class CountingSecrets:
    def __init__(self) -> None:
        self.calls = 0
        self.value: str | Exception = KEY.decode()

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        if isinstance(self.value, Exception):
            raise self.value
        return {"SecretString": self.value}


def unavailable() -> Exception:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://secretsmanager")


def test_the_signing_key_is_cached_then_re_read_after_its_refresh_time() -> None:
    secrets, clock = CountingSecrets(), Clock(0.0)
    key = SigningKey("arn", refresh_seconds=300, secretsmanager=lambda: secrets, clock=clock)
    assert key.get() == KEY
    clock.now = 299
    secrets.value = OLD_KEY.decode()
    assert key.get() == KEY
    assert secrets.calls == 1
    clock.now = 301  # a rotation reaches a warm container within the refresh time
    assert key.get() == OLD_KEY
    assert secrets.calls == 2


def test_a_failed_re_read_keeps_the_last_key_and_retries_later() -> None:
    secrets, clock = CountingSecrets(), Clock(0.0)
    key = SigningKey(
        "arn", refresh_seconds=300, retry_seconds=5, secretsmanager=lambda: secrets, clock=clock
    )
    key.get()
    secrets.value = unavailable()
    clock.now = 400
    assert key.get() == KEY
    clock.now = 404
    assert key.get() == KEY
    assert secrets.calls == 2  # not asked again before retry_seconds
    secrets.value = OLD_KEY.decode()
    clock.now = 406
    assert key.get() == OLD_KEY


def test_without_any_key_reads_are_rate_limited_then_retried() -> None:
    secrets, clock = CountingSecrets(), Clock(0.0)
    secrets.value = unavailable()
    key = SigningKey("arn", retry_seconds=5, secretsmanager=lambda: secrets, clock=clock)
    for _ in range(3):
        with pytest.raises(SigningKeyUnavailableError):
            key.get()
    assert secrets.calls == 1
    secrets.value = KEY.decode()
    clock.now = 5
    assert key.get() == KEY  # the same object recovers: a failure is not kept forever


# ---------------------------------------------------------------------------- the handler


@pytest.fixture
def signing_secret(moto: None) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name="backend-signing", SecretString=KEY.decode())["ARN"]


def test_every_backend_call_is_signed_and_verifies(server: FakeServer, signing_secret: str) -> None:
    settings = HandlerSettings(
        connections_table="t", backend_url=server.url, backend_signing_secret_arn=signing_secret
    )
    server.default = Reply(200, {"type": "ok"})
    http = backend_client.pool()
    assert backend_client.validate_session(http, settings, "lab:1", "tok").ok
    assert backend_client.forward_message(http, settings, "c", {"type": "x", "n": "é"}).ok
    assert backend_client.notify_disconnect(http, settings, {"connectionId": "c"}).ok
    check = RequestVerifier([KEY])
    seen = server.seen()
    assert [call.method for call in seen] == ["GET", "POST", "POST"]
    assert seen[0].path == "/api/labs/session/lab%3A1/validate"
    for call in seen:
        check.verify(call.method, call.path.split("?")[0], call.headers, call.body)
    # What a forger would send (no key) and what a replay would send are both refused.
    unsigned = {k: v for k, v in seen[1].headers.items() if not k.startswith("X-Bridge")}
    assert reason(check, "POST", seen[1].path, unsigned, seen[1].body) == "missing_headers"
    assert reason(check, "POST", seen[1].path, seen[1].headers, seen[1].body) == "replayed"


def test_without_a_secret_arn_nothing_is_signed(server: FakeServer) -> None:
    server.default = Reply(200, {"type": "ok"})
    settings = HandlerSettings(connections_table="t", backend_url=server.url)
    backend_client.forward_message(backend_client.pool(), settings, "c", {})
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
    result = backend_client.forward_message(
        backend_client.pool(), module.SETTINGS, "c", {"type": "x"}
    )
    assert result.outcome is Outcome.NOT_SIGNED
