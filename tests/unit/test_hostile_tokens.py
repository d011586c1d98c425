"""Token attacks at the authorizer entry point, beyond those of test_jwt_verifier.py and
test_authorizer.py: variants of ``alg: none``, key confusion against an RS256/ES256 JWKS
configuration, header tampering, attacker-supplied keys (``jwk``/``jku``), claims of the wrong
type, size limits at the boundary and disagreeing token sources.

The last test plays API Gateway's part for a whole handshake (authorizer, then ``$connect``
only when it allows) and proves that no attack stores a connection record or reaches the
backend, while a valid token does both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jwt
import pytest
from bridge_fakes import (
    SECRET,
    FakeServer,
    Reply,
    b64url,
    claims,
    hs_token,
    load_event,
    raw_token,
    scan,
    set_header,
    set_query,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ws_bridge.jwt_verifier import MAX_TOKEN_BYTES

JWKS_PATH = "/.well-known/jwks.json"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/$connect"


# ---------------------------------------------------------------------------- helpers


def auth_event(token: str | None = None, **query: str) -> dict[str, Any]:
    event = load_event("authorizer_request")
    if token is not None:
        set_query(event, token=token)
    if query:
        set_query(event, **query)
    return event


def decide(authorizer: ModuleType, event: dict[str, Any]) -> int | dict[str, Any]:
    """401 for ``Exception("Unauthorized")``, 403 for a Deny policy, else the Allow answer."""
    failure: Exception | None = None
    try:
        answer: dict[str, Any] = authorizer.handler(event, None)
    except Exception as exc:  # noqa: BLE001 - what escapes is the subject of the test
        failure = exc
    if failure is not None:
        assert type(failure) is Exception
        assert str(failure) == "Unauthorized"
        return 401
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Resource"] == METHOD_ARN
    if statement["Effect"] == "Deny":
        assert "context" not in answer
        return 403
    assert statement["Effect"] == "Allow"
    return answer


def segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def encode_segment(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def hmac_sign(header: dict[str, Any], payload: Any, key: bytes, digest: Any) -> str:
    signing_input = f"{encode_segment(header)}.{encode_segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def authorizer(load_authorizer: Callable[..., ModuleType], secret_arn: str) -> ModuleType:
    return load_authorizer(JWT_SECRET_ARN=secret_arn)


@pytest.fixture
def jwks_url(
    server: FakeServer, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> str:
    rsa_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    ec_jwk: dict[str, Any] = ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    keys = [
        {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
        {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
    ]
    server.reply("GET", JWKS_PATH, Reply(body={"keys": keys}))
    return server.url + JWKS_PATH


@pytest.fixture
def rs256_authorizer(load_authorizer: Callable[..., ModuleType], jwks_url: str) -> ModuleType:
    return load_authorizer(JWT_ALGORITHMS="RS256", JWT_JWKS_URL=jwks_url)


@pytest.fixture
def es256_authorizer(load_authorizer: Callable[..., ModuleType], jwks_url: str) -> ModuleType:
    return load_authorizer(JWT_ALGORITHMS="ES256", JWT_JWKS_URL=jwks_url)


# ---------------------------------------------------------------------------- alg none


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "", None])
def test_unsigned_tokens_in_every_spelling_are_unauthorized(
    authorizer: ModuleType, alg: str | None
) -> None:
    header = {"typ": "JWT"} if alg is None else {"alg": alg, "typ": "JWT"}
    for signature in ("", "c2lnbmF0dXJl"):
        token = f"{encode_segment(header)}.{encode_segment(claims(sub='admin'))}.{signature}"
        assert decide(authorizer, auth_event(token)) == 401


def test_alg_none_is_unauthorized_under_an_asymmetric_configuration_too(
    rs256_authorizer: ModuleType,
) -> None:
    token = raw_token({"alg": "none", "kid": "rsa-1"}, claims(sub="admin"), key=None)
    assert decide(rs256_authorizer, auth_event(token)) == 401


# ---------------------------------------------------------------------------- key confusion


def rsa_key_forms(key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Every public form of the key an attacker could feed to HMAC."""
    public = key.public_key()
    modulus = public.public_numbers().n
    return {
        "spki-pem": public_pem(key),
        "pkcs1-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "spki-der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk-json": RSAAlgorithm.to_jwk(public).encode(),
        "modulus": modulus.to_bytes((modulus.bit_length() + 7) // 8, "big"),
    }


@pytest.mark.parametrize(
    "form", ["spki-pem", "pkcs1-pem", "spki-der", "openssh", "jwk-json", "modulus"]
)
def test_hmac_signed_with_the_rsa_public_key_is_unauthorized(
    rs256_authorizer: ModuleType, rsa_key: rsa.RSAPrivateKey, form: str
) -> None:
    key = rsa_key_forms(rsa_key)[form]
    for claimed_alg, digest in [
        ("HS256", hashlib.sha256),
        ("HS384", hashlib.sha384),
        ("HS512", hashlib.sha512),
        ("RS256", hashlib.sha256),
    ]:
        forged = hmac_sign(
            {"alg": claimed_alg, "typ": "JWT", "kid": "rsa-1"}, claims(sub="admin"), key, digest
        )
        assert decide(rs256_authorizer, auth_event(forged)) == 401, claimed_alg


@pytest.mark.parametrize("claimed_alg", ["HS256", "ES256"])
def test_hmac_signed_with_the_ec_public_key_is_unauthorized(
    es256_authorizer: ModuleType, ec_key: ec.EllipticCurvePrivateKey, claimed_alg: str
) -> None:
    forged = hmac_sign(
        {"alg": claimed_alg, "kid": "ec-1"}, claims(sub="admin"), public_pem(ec_key), hashlib.sha256
    )
    assert decide(es256_authorizer, auth_event(forged)) == 401


def test_a_valid_rs256_token_is_allowed_so_the_rejections_above_mean_something(
    rs256_authorizer: ModuleType, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    answer = decide(rs256_authorizer, auth_event(token))
    assert isinstance(answer, dict)
    assert answer["context"]["userId"] == "user-1"


@pytest.mark.parametrize(
    ("algorithm", "key_fixture"),
    [("RS256", "rsa_key"), ("PS256", "rsa_key"), ("ES256", "ec_key")],
)
def test_asymmetric_tokens_are_unauthorized_under_an_hmac_configuration(
    authorizer: ModuleType, request: pytest.FixtureRequest, algorithm: str, key_fixture: str
) -> None:
    key = request.getfixturevalue(key_fixture)
    token = jwt.encode(claims(), key, algorithm=algorithm, headers={"kid": "rsa-1"})
    assert decide(authorizer, auth_event(token)) == 401


# ---------------------------------------------------------------------------- attacker keys


def test_keys_and_key_urls_named_in_the_token_are_never_used(
    rs256_authorizer: ModuleType, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    attacker = FakeServer().start()
    try:
        attacker_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(other_rsa_key.public_key(), as_dict=True)
        attacker.reply(
            "GET", "/jwks.json", Reply(body={"keys": [{**attacker_jwk, "kid": "rsa-1"}]})
        )
        headers = {
            "kid": "rsa-1",
            "jku": attacker.url + "/jwks.json",
            "x5u": attacker.url + "/cert.pem",
            "jwk": {**attacker_jwk, "kid": "rsa-1"},
        }
        token = jwt.encode(claims(sub="admin"), other_rsa_key, algorithm="RS256", headers=headers)
        assert decide(rs256_authorizer, auth_event(token)) == 401
        assert attacker.seen() == []
    finally:
        attacker.stop()


@pytest.mark.parametrize(
    "kid", ["../../../../etc/passwd", "rsa-1' OR '1'='1", "", "x" * 5000, "rsa-1\x00", "ec-1"]
)
def test_odd_key_ids_are_unauthorized(
    rs256_authorizer: ModuleType, other_rsa_key: rsa.RSAPrivateKey, kid: str
) -> None:
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers={"kid": kid})
    assert decide(rs256_authorizer, auth_event(token)) == 401


# ---------------------------------------------------------------------------- tampering


def test_a_changed_header_breaks_the_signature(authorizer: ModuleType) -> None:
    _, payload, signature = segments(hs_token(sub="admin"))
    for changed in (
        {"alg": "HS512", "typ": "JWT"},
        {"alg": "HS384", "typ": "JWT"},
        {"alg": "HS256", "typ": "JWT", "kid": "other"},
        {"alg": "HS256"},
    ):
        assert (
            decide(authorizer, auth_event(f"{encode_segment(changed)}.{payload}.{signature}"))
            == 401
        )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda h, p, s, o: f"{h}.{p}.", id="signature-stripped"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}", id="two-segments"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}.{s}.{s}", id="four-segments"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}.{segments(o)[2]}", id="signature-of-another"),
        pytest.param(lambda h, p, s, o: f"{h}.{segments(o)[1]}.{s}", id="payload-of-another"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}.{s[:-2]}", id="signature-truncated"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}.{s}AA", id="signature-extended"),
        pytest.param(lambda h, p, s, o: f"{h}.{p}={s}", id="padding-for-dot"),
        pytest.param(lambda h, p, s, o: f" {h}.{p}.{s[::-1]}", id="signature-reversed"),
    ],
)
def test_reassembled_tokens_are_unauthorized(
    authorizer: ModuleType, forge: Callable[[str, str, str, str], str]
) -> None:
    header, payload, signature = segments(hs_token(sub="alice"))
    other = hs_token(sub="admin", sessionId="other-session")
    assert decide(authorizer, auth_event(forge(header, payload, signature, other))) == 401


# ---------------------------------------------------------------------------- claim types


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="array-payload"),
        pytest.param("user-1", id="string-payload"),
        pytest.param(claims(exp="tomorrow"), id="exp-text"),
        pytest.param(claims(exp=[9999999999]), id="exp-list"),
        pytest.param(claims(nbf="soon"), id="nbf-text"),
        pytest.param(claims(iat="now"), id="iat-string"),
        pytest.param(claims(sub=["user-1"]), id="sub-list"),
        pytest.param(claims(sub={"id": "user-1"}), id="sub-object"),
        pytest.param(claims(sub=True), id="sub-bool"),
        pytest.param(claims(sub="u" * 129), id="sub-too-long"),
        pytest.param(claims(sessionId=""), id="session-empty"),
        pytest.param(claims(sessionId={"id": "s"}), id="session-object"),
        pytest.param(claims(sessionId=True), id="session-bool"),
        pytest.param(claims(sessionId="s" * 129), id="session-too-long"),
    ],
)
def test_validly_signed_claims_of_the_wrong_type_are_unauthorized(
    authorizer: ModuleType, payload: Any
) -> None:
    token = hmac_sign({"alg": "HS256", "typ": "JWT"}, payload, SECRET.encode(), hashlib.sha256)
    assert decide(authorizer, auth_event(token)) == 401


@pytest.mark.parametrize(
    ("iss", "aud"),
    [
        ("https://ID.example.com/", "labs"),
        ("https://id.example.com", "labs"),
        ("https://id.example.com/", "Labs"),
        ("https://id.example.com/", ["ops", "dev"]),
        ("https://id.example.com/", 42),
        (["https://id.example.com/"], "labs"),
        (None, None),
    ],
)
def test_near_miss_issuer_or_audience_is_unauthorized(
    load_authorizer: Callable[..., ModuleType], secret_arn: str, iss: Any, aud: Any
) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN=secret_arn, JWT_ISSUER="https://id.example.com/", JWT_AUDIENCE="labs"
    )
    token = hmac_sign({"alg": "HS256"}, claims(iss=iss, aud=aud), SECRET.encode(), hashlib.sha256)
    assert decide(authorizer, auth_event(token)) == 401
    good = decide(
        authorizer, auth_event(hs_token(iss="https://id.example.com/", aud=["x", "labs"]))
    )
    assert isinstance(good, dict)


# ---------------------------------------------------------------------------- size


def padded_token(size: int) -> str:
    return hs_token(pad="x" * size)


def tokens_around(limit: int) -> tuple[str, str]:
    """The longest valid token of at most ``limit`` bytes and the shortest one above it."""
    low, high = 0, limit  # len(padded_token(low)) <= limit < len(padded_token(high))
    while high - low > 1:
        middle = (low + high) // 2
        if len(padded_token(middle)) <= limit:
            low = middle
        else:
            high = middle
    return padded_token(low), padded_token(high)


@pytest.mark.parametrize("where", ["query", "authorization", "protocol"])
def test_the_size_limit_is_8_kb_in_every_source(authorizer: ModuleType, where: str) -> None:
    largest, too_large = tokens_around(MAX_TOKEN_BYTES)
    assert MAX_TOKEN_BYTES - 4 < len(largest) <= MAX_TOKEN_BYTES < len(too_large)
    assert len(too_large) <= MAX_TOKEN_BYTES + 4

    def event(token: str) -> dict[str, Any]:
        if where == "query":
            return auth_event(token)
        if where == "authorization":
            return set_header(auth_event(), "Authorization", f"Bearer {token}")
        return set_header(auth_event(), "Sec-WebSocket-Protocol", f"bearer, {token}")

    assert isinstance(decide(authorizer, event(largest)), dict)
    assert decide(authorizer, event(too_large)) == 401


# ---------------------------------------------------------------------------- sources


def test_disagreeing_sources_are_forbidden_whichever_is_valid(authorizer: ModuleType) -> None:
    valid, other = hs_token(sub="alice"), hs_token(sub="mallory")
    expired = hs_token(exp=int(time.time()) - 600)
    cases = [
        set_header(auth_event(valid), "Authorization", "Bearer garbage"),
        set_header(auth_event("garbage"), "Authorization", f"Bearer {valid}"),
        set_header(auth_event(expired), "Authorization", f"Bearer {valid}"),
        set_header(
            set_header(auth_event(), "Authorization", f"Bearer {valid}"),
            "Sec-WebSocket-Protocol",
            f"bearer, {other}",
        ),
        set_header(
            auth_event(valid), "Sec-WebSocket-Protocol", f"bearer, {valid}, bearer, {other}"
        ),
    ]
    multi = auth_event()
    multi["multiValueHeaders"]["Authorization"] = [f"Bearer {valid}", f"Bearer {other}"]
    multi["headers"]["Authorization"] = f"Bearer {other}"
    cases.append(multi)
    for event in cases:
        assert decide(authorizer, event) == 403


# ---------------------------------------------------------------------------- whole handshake


@pytest.fixture
def handshake(
    load_authorizer: Callable[..., ModuleType],
    load_handler: Callable[..., ModuleType],
    secret_arn: str,
    table: str,
    server: FakeServer,
) -> Callable[[dict[str, Any]], int]:
    """API Gateway's handshake: authorizer; ``$connect`` with its context when it allows."""
    authorizer = load_authorizer(JWT_SECRET_ARN=secret_arn)
    # Tokens, not deadlines, are under test here: a backend budget that a busy machine can
    # miss would turn the valid control handshake into a 502 (test_backend_client.py and
    # test_hostile_faults.py hold the deadlines to their bounds).
    handler = load_handler(
        CONNECTIONS_TABLE=table, BACKEND_URL=server.url, BACKEND_TIMEOUT_SECONDS="5"
    )
    server.reply("POST", "/api/labs/session/sess-1/validate", Reply(200, {"valid": True}))
    server.reply("POST", "/api/labs/session/other/validate", Reply(403, {"error": "not a member"}))

    def run(event: dict[str, Any]) -> int:
        decision = decide(authorizer, event)
        if isinstance(decision, int):
            return decision
        connect = load_event("connect")
        for key in ("headers", "multiValueHeaders", "queryStringParameters"):
            connect[key] = event.get(key)
        connect["multiValueQueryStringParameters"] = event.get("multiValueQueryStringParameters")
        connect["requestContext"]["authorizer"] = {
            **decision["context"],
            "principalId": decision["principalId"],
        }
        status: int = handler.handler(connect, None)["statusCode"]
        return status

    return run


@pytest.mark.parametrize(
    ("make_event", "status"),
    [
        (lambda: auth_event(raw_token({"alg": "none"}, claims(sub="admin"), None)), 401),
        (lambda: auth_event(hs_token("another-secret-that-is-long-enough-to-sign")), 401),
        (lambda: auth_event(hs_token(exp=int(time.time()) - 600)), 401),
        (lambda: auth_event(hs_token(nbf=int(time.time()) + 600)), 401),
        (lambda: auth_event(hs_token(sub=None)), 401),
        (lambda: auth_event(hs_token(exp=None)), 401),
        (lambda: auth_event(hs_token(pad="x" * MAX_TOKEN_BYTES)), 401),
        (lambda: auth_event("eyJhbGciOiJIUzI1NiJ9.e30.garbage"), 401),
        (lambda: auth_event(hs_token(sessionId="sess-1"), sessionId="other"), 403),
        (lambda: auth_event(hs_token(sessionId="other")), 403),
        (
            lambda: set_header(
                auth_event(hs_token()), "Authorization", f"Bearer {hs_token(sub='x')}"
            ),
            403,
        ),
    ],
    ids=[
        "alg-none",
        "forged",
        "expired",
        "not-yet-valid",
        "no-sub",
        "no-exp",
        "oversized",
        "garbage",
        "query-names-another-session",
        "token-for-another-session",
        "sources-disagree",
    ],
)
def test_no_attack_stores_a_record_or_passes_a_token_to_the_backend(
    handshake: Callable[[dict[str, Any]], int],
    server: FakeServer,
    make_event: Callable[[], dict[str, Any]],
    status: int,
) -> None:
    assert handshake(make_event()) == status
    assert scan() == {}
    # Only a token the authorizer verified may reach the backend (here: for "other", which
    # the backend refuses).
    assert all(call.path == "/api/labs/session/other/validate" for call in server.seen())
    # The control case: the same handshake with a valid token stores exactly one record.
    assert handshake(auth_event(hs_token())) == 200
    assert list(scan()) == ["R0oXAdfD0kwCH6w="]
