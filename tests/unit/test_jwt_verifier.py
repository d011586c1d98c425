"""Token verification: every token attack the security model names, against TokenVerifier, with keys
made here, HMAC secrets in moto's Secrets Manager/SSM and a real JWKS endpoint."""

from __future__ import annotations

import inspect
import json
import ssl
import time
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from bridge_fakes import (
    REGION,
    SECRET,
    FakeServer,
    Reply,
    b64url,
    claims,
    hs_token,
    load_event,
    raw_token,
    set_header,
    set_query,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from trickle_server import self_signed_certificate

from ws_bridge.jwt_verifier import (
    MAX_TOKEN_BYTES,
    InvalidTokenError,
    KeyUnavailableError,
    TokenVerifier,
    load_hmac_secret,
)
from ws_bridge.settings import AuthorizerSettings
from ws_bridge.token_sources import FoundToken, bearer_offered, find_tokens

JWKS_PATH = "/.well-known/jwks.json"


def fixed_secret(settings: AuthorizerSettings) -> bytes:
    return SECRET.encode()


def hs_verifier(**overrides: Any) -> TokenVerifier:
    settings = AuthorizerSettings(secret_arn="arn:unused", **overrides)
    return TokenVerifier(settings, secret_loader=fixed_secret)


def reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        verifier.verify(token)
    return caught.value.reason


# ---------------------------------------------------------------- HMAC


def test_valid_hs256_token_gives_its_claims() -> None:
    token = hs_token(sub="alice", sessionId="lab-42")
    verified = hs_verifier().verify(token)
    assert verified["sub"] == "alice"
    assert verified["sessionId"] == "lab-42"


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_when_allowed(algorithm: str) -> None:
    secret = SECRET * 2  # HS512 needs a 64-byte key
    verifier = TokenVerifier(
        AuthorizerSettings(algorithms=(algorithm,), secret_arn="arn:unused"),
        secret_loader=lambda _: secret.encode(),
    )
    assert verifier.verify(hs_token(secret, algorithm))["sub"] == "user-1"
    assert reason(verifier, hs_token(secret, "HS256")) == "algorithm_not_allowed"


def test_secret_from_secrets_manager(secret_arn: str) -> None:
    settings = AuthorizerSettings(secret_arn=secret_arn)
    assert load_hmac_secret(settings) == SECRET.encode()
    assert TokenVerifier(settings).verify(hs_token())["sub"] == "user-1"


def test_secret_from_ssm_securestring(secret_parameter: str) -> None:
    settings = AuthorizerSettings(secret_parameter=secret_parameter)
    assert load_hmac_secret(settings) == SECRET.encode()
    assert TokenVerifier(settings).verify(hs_token())["sub"] == "user-1"


def test_secret_is_read_once_per_container() -> None:
    calls: list[AuthorizerSettings] = []

    def loader(settings: AuthorizerSettings) -> bytes:
        calls.append(settings)
        return SECRET.encode()

    verifier = TokenVerifier(AuthorizerSettings(secret_arn="arn:unused"), secret_loader=loader)
    for _ in range(3):
        verifier.verify(hs_token())
    assert len(calls) == 1


def test_missing_secret_is_a_key_fault_and_is_retried(moto: None) -> None:
    verifier = TokenVerifier(AuthorizerSettings(secret_arn="absent"))
    with pytest.raises(KeyUnavailableError):
        verifier.verify(hs_token())
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="absent", SecretString=SECRET
    )
    # A failed read is not remembered: the same verifier reads again on the next request.
    assert verifier.verify(hs_token())["sub"] == "user-1"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hmac_secret_shorter_than_the_hash_is_refused() -> None:
    short = "too-short-secret"
    verifier = TokenVerifier(
        AuthorizerSettings(secret_arn="arn:unused"), secret_loader=lambda _: short.encode()
    )
    with pytest.raises(KeyUnavailableError, match="RFC 7518"):
        verifier.verify(jwt.encode(claims(), short, algorithm="HS256"))


def test_alg_none_is_rejected() -> None:
    token = raw_token({"alg": "none", "typ": "JWT"}, claims(), key=None)
    assert reason(hs_verifier(), token) == "algorithm_not_allowed"


def test_wrong_secret_is_rejected() -> None:
    token = hs_token("another-secret-that-is-long-enough-to-sign-with")
    assert reason(hs_verifier(), token) == "bad_signature"


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = hs_token().split(".")
    forged = b64url(json.dumps(claims(sub="admin")).encode())
    assert reason(hs_verifier(), f"{header}.{forged}.{signature}") == "bad_signature"


def test_expired_token_is_rejected_whatever_the_leeway() -> None:
    """The handler refuses every message from exp on: a token past its exp must not open a
    connection either, leeway or not (test_token_expiry.py has the exact boundary)."""
    now = int(time.time())
    assert reason(hs_verifier(), hs_token(exp=now - 31)) == "expired"
    assert reason(hs_verifier(), hs_token(exp=now - 10)) == "expired"
    assert reason(hs_verifier(leeway_seconds=300), hs_token(exp=now - 1)) == "expired"


def test_token_not_yet_valid_is_rejected() -> None:
    now = int(time.time())
    assert reason(hs_verifier(), hs_token(nbf=now + 120)) == "not_yet_valid"
    assert hs_verifier().verify(hs_token(nbf=now + 10))["sub"] == "user-1"


def test_issuer_and_audience_are_checked_when_configured() -> None:
    verifier = hs_verifier(issuer="https://issuer.example.com/", audience="labs")
    good = hs_token(iss="https://issuer.example.com/", aud=["other", "labs"])
    assert verifier.verify(good)["sub"] == "user-1"
    assert reason(verifier, hs_token(iss="https://evil.example.com/", aud="labs")) == (
        "wrong_issuer"
    )
    assert reason(verifier, hs_token(iss="https://issuer.example.com/", aud="other")) == (
        "wrong_audience"
    )
    assert reason(verifier, hs_token(aud="labs")) == "missing_claim:iss"
    assert reason(verifier, hs_token(iss="https://issuer.example.com/")) == "missing_claim:aud"


def test_audience_is_not_checked_when_not_configured() -> None:
    assert hs_verifier().verify(hs_token(aud="whatever"))["sub"] == "user-1"


@pytest.mark.parametrize("claim", ["exp", "sub"])
def test_missing_required_claim_is_rejected(claim: str) -> None:
    assert reason(hs_verifier(), hs_token(**{claim: None})) == f"missing_claim:{claim}"


def test_custom_user_claim_is_required() -> None:
    verifier = hs_verifier(user_claim="uid")
    assert reason(verifier, hs_token()) == "missing_claim:uid"
    assert verifier.verify(hs_token(uid="u-9"))["uid"] == "u-9"


def test_oversized_token_is_rejected_before_decoding() -> None:
    loads: list[int] = []

    def loader(settings: AuthorizerSettings) -> bytes:
        loads.append(1)
        return SECRET.encode()

    verifier = TokenVerifier(AuthorizerSettings(secret_arn="arn:unused"), secret_loader=loader)
    token = hs_token(padding="x" * MAX_TOKEN_BYTES)
    assert reason(verifier, token) == "too_large"
    assert loads == []  # not even the key was needed


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "....", "Bearer", "eyJhbGciOiJIUzI1NiJ9..", "é.ü.ß", "\x00\x01"],
)
def test_garbage_is_rejected(garbage: str) -> None:
    assert reason(hs_verifier(), garbage) in {
        "malformed",
        "algorithm_not_allowed",
        "bad_signature",
        "invalid",
    }


# ---------------------------------------------------------------- JWKS


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


@pytest.fixture
def jwks(server: FakeServer, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> str:
    server.reply(
        "GET", JWKS_PATH, Reply(body={"keys": [rsa_jwk(rsa_key, "rsa-1"), ec_jwk(ec_key, "ec-1")]})
    )
    return server.url + JWKS_PATH


def jwks_verifier(url: str, *algorithms: str) -> TokenVerifier:
    return TokenVerifier(AuthorizerSettings(algorithms=algorithms or ("RS256",), jwks_url=url))


def test_rs256_via_jwks(jwks: str, rsa_key: rsa.RSAPrivateKey, server: FakeServer) -> None:
    verifier = jwks_verifier(jwks)
    for _ in range(3):
        token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        assert verifier.verify(token)["sub"] == "user-1"
    assert len(server.seen("GET", JWKS_PATH)) == 1  # the key set is cached


def test_es256_via_jwks(jwks: str, ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = jwks_verifier(jwks, "ES256")
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert verifier.verify(token)["sub"] == "user-1"


def test_algorithm_outside_the_allow_list(jwks: str, ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert reason(jwks_verifier(jwks, "RS256"), token) == "algorithm_not_allowed"


def test_key_confusion_hs256_signed_with_the_rsa_public_key(
    jwks: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = raw_token({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), key=public_pem)
    assert reason(jwks_verifier(jwks, "RS256"), forged) == "algorithm_not_allowed"
    # even if the attacker names the algorithm the key is bound to, the HMAC is no RSA signature
    forged = raw_token({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}, claims(), key=public_pem)
    assert reason(jwks_verifier(jwks, "RS256"), forged) == "bad_signature"


def test_token_alg_must_match_the_jwk(jwks: str, rsa_key: rsa.RSAPrivateKey) -> None:
    # RS256 and ES256 both allowed; a token claiming ES256 under the RSA key's kid fails.
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
    assert reason(jwks_verifier(jwks, "RS256", "ES256"), token) in {
        "algorithm_not_allowed",
        "bad_signature",
    }


def test_wrong_rsa_key_is_rejected(jwks: str, other_rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    assert reason(jwks_verifier(jwks), token) == "bad_signature"


def test_unknown_or_missing_kid(jwks: str, rsa_key: rsa.RSAPrivateKey) -> None:
    unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-9"})
    assert reason(jwks_verifier(jwks), unknown) == "unknown_key"
    missing = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert reason(jwks_verifier(jwks), missing) == "missing_kid"


def test_expired_rs256_token(jwks: str, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(
        claims(exp=int(time.time()) - 120), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    assert reason(jwks_verifier(jwks), token) == "expired"


@pytest.mark.parametrize(
    "reply", [Reply(503, "unavailable"), Reply(200, "not json"), Reply(200, {"keys": []})]
)
def test_jwks_endpoint_failure_is_a_key_fault(
    server: FakeServer, rsa_key: rsa.RSAPrivateKey, reply: Reply
) -> None:
    server.reply("GET", JWKS_PATH, reply)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(KeyUnavailableError):
        jwks_verifier(server.url + JWKS_PATH).verify(token)


def test_jwks_endpoint_down_is_a_key_fault(rsa_key: rsa.RSAPrivateKey) -> None:
    from bridge_fakes import free_port

    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(KeyUnavailableError):
        jwks_verifier(f"http://127.0.0.1:{free_port()}{JWKS_PATH}").verify(token)


# ---------------------------------------------------------------- token sources


def test_sources_in_order_of_precedence() -> None:
    event = set_query(load_event("authorizer_request"), token="q")
    set_header(event, "authorization", "Bearer h")
    set_header(event, "Sec-WebSocket-Protocol", "bearer, p")
    assert find_tokens(event) == [
        FoundToken("query", "q"),
        FoundToken("authorization", "h"),
        FoundToken("protocol", "p"),
    ]
    assert bearer_offered(event)


def test_sources_ignore_other_schemes_and_protocols() -> None:
    event = set_header(load_event("authorizer_request"), "Authorization", "Basic dXNlcjpwYXNz")
    set_header(event, "Sec-WebSocket-Protocol", "chat, superchat")
    assert find_tokens(event) == []
    assert not bearer_offered(event)


def test_every_value_of_a_repeated_source_counts() -> None:
    event = set_query(load_event("authorizer_request"), token=["one", "two"])
    assert [item.token for item in find_tokens(event)] == ["one", "two"]


def test_headers_only_in_single_value_form() -> None:
    event = load_event("authorizer_request")
    del event["multiValueHeaders"]
    event["headers"]["AUTHORIZATION"] = "bearer   tok  "
    assert find_tokens(event) == [FoundToken("authorization", "tok")]


# ---------------------------------------------------------------- key rotation and JSON secrets


def test_a_json_secret_is_read_by_the_named_field(moto: None) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="json", SecretString=json.dumps({"jwt": SECRET, "x": "y"}))[
        "ARN"
    ]
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=arn, secret_json_key="jwt"))
    assert verifier.verify(hs_token())["sub"] == "user-1"
    with pytest.raises(KeyUnavailableError, match=r"'other'.*JWT_SECRET_JSON_KEY"):
        TokenVerifier(AuthorizerSettings(secret_arn=arn, secret_json_key="other")).verify(
            hs_token()
        )


def test_a_json_secret_without_a_named_field_is_refused_clearly(
    load_authorizer: Any, moto: None, captured_logs: Any
) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="json", SecretString=json.dumps({"jwt": SECRET}))["ARN"]
    authorizer = load_authorizer(JWT_SECRET_ARN=arn)
    captured_logs()
    with pytest.raises(authorizer.KeyFetchError):
        authorizer.handler(set_query(load_event("authorizer_request"), token=hs_token()), None)
    text = captured_logs()
    assert "set JWT_SECRET_JSON_KEY" in text
    assert SECRET not in text


def test_tokens_signed_with_the_current_or_previous_key_pass_during_a_rotation(
    moto: None,
) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="rotating", SecretString=SECRET)["ARN"]
    new_secret = SECRET[::-1]
    client.put_secret_value(SecretId=arn, SecretString=new_secret)
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=arn))
    assert verifier.verify(hs_token(SECRET))["sub"] == "user-1"
    assert verifier.verify(hs_token(new_secret))["sub"] == "user-1"
    assert reason(verifier, hs_token("a-third-secret-0123456789-0123456789-abcdefg")) == (
        "bad_signature"
    )


class KeyStore:
    def __init__(self) -> None:
        self.reads = 0
        self.secret = SECRET

    def __call__(self, settings: AuthorizerSettings) -> bytes:
        self.reads += 1
        return self.secret.encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_hmac_key_is_re_read_after_a_bounded_time() -> None:
    store, clock = KeyStore(), Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn="a"), secret_loader=store, clock=clock)
    verifier.verify(hs_token())
    clock.now += 299
    verifier.verify(hs_token())
    assert store.reads == 1
    clock.now += 2
    verifier.verify(hs_token())
    assert store.reads == 2


def test_a_signature_mismatch_re_reads_the_key_once_and_rate_limited() -> None:
    store, clock = KeyStore(), Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn="a"), secret_loader=store, clock=clock)
    verifier.verify(hs_token())
    rotated = SECRET.upper()
    store.secret = rotated  # rotated elsewhere; this container still holds the old key
    clock.now += 31
    assert verifier.verify(hs_token(rotated))["sub"] == "user-1"  # one re-read found it
    assert store.reads == 2
    forged = hs_token("forged-secret-0123456789-0123456789-abcdefghij")
    for _ in range(5):  # forged tokens cannot make it hammer Secrets Manager
        assert reason(verifier, forged) == "bad_signature"
    assert store.reads == 2
    clock.now += 31
    assert reason(verifier, forged) == "bad_signature"
    assert store.reads == 3


def test_a_failed_re_read_keeps_the_last_good_key() -> None:
    store, clock = KeyStore(), Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn="a"), secret_loader=store, clock=clock)
    verifier.verify(hs_token())

    def broken(settings: AuthorizerSettings) -> bytes:
        raise KeyUnavailableError("outage")

    verifier._secret_loader = broken
    clock.now += 301
    assert verifier.verify(hs_token())["sub"] == "user-1"


# ---------------------------------------------------------------- JWKS outages


class MonotonicClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_last_good_key_set_carries_through_a_jwks_outage(
    jwks: str, server: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = MonotonicClock()
    client = jwt.PyJWKClient(jwks, cache_jwk_set=True, lifespan=0.05)
    verifier = TokenVerifier(
        AuthorizerSettings(algorithms=("RS256",), jwks_url=jwks), jwks_client=client, clock=clock
    )
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    assert verifier.verify(token)["sub"] == "user-1"
    server.reply("GET", JWKS_PATH, Reply(503, "down"))
    time.sleep(0.1)  # the client's own cache has expired: it must fetch, and fails
    clock.now = 3599
    assert verifier.verify(token)["sub"] == "user-1"
    assert len(server.seen("GET", JWKS_PATH)) >= 2  # it did try to refresh
    unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-9"})
    with pytest.raises(KeyUnavailableError):  # cannot tell a new key from a bad one: 5xx
        verifier.verify(unknown)
    clock.now = 3601  # past the grace period
    with pytest.raises(KeyUnavailableError, match="JWKS unavailable"):
        verifier.verify(token)


def test_a_tls_failure_of_the_jwks_fetch_is_named_as_such(
    tmp_path: Path, server: FakeServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls = FakeServer()
    tls._server.socket = context.wrap_socket(tls._server.socket, server_side=True)
    tls.start()
    try:
        port = tls._server.server_address[1]
        token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        with pytest.raises(KeyUnavailableError, match="TLS certificate verification failed"):
            jwks_verifier(f"https://127.0.0.1:{port}{JWKS_PATH}").verify(token)
    finally:
        tls.stop()


def test_key_ages_are_timed_on_the_wall_clock_which_a_frozen_container_keeps() -> None:
    # Lambda freezes a container between invocations; a monotonic clock need not advance
    # meanwhile, so a rarely used container would keep a rotated-out key for ever.
    assert inspect.signature(TokenVerifier).parameters["clock"].default is time.time


def test_a_clock_that_went_back_reads_the_key_again() -> None:
    calls: list[AuthorizerSettings] = []
    now = [10_000.0]

    def loader(settings: AuthorizerSettings) -> bytes:
        calls.append(settings)
        return SECRET.encode()

    verifier = TokenVerifier(
        AuthorizerSettings(secret_arn="arn:unused"), secret_loader=loader, clock=lambda: now[0]
    )
    verifier.verify(hs_token())
    now[0] -= 3600  # an hour back: the key's age would be negative for an hour
    verifier.verify(hs_token())
    assert len(calls) == 2
