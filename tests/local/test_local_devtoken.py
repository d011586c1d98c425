"""Development tokens: minting, verification round trips, secrets from Secrets Manager, CLIs."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from ws_bridge.events import MAX_ID_LENGTH
from ws_bridge.jwt_verifier import InvalidTokenError, TokenVerifier
from wslocal.client import cli as client
from wslocal.devtoken import TokenCheck, mint_token, read_secret

SECRET = "a-development-secret-of-at-least-32-bytes"
ROOT = Path(__file__).resolve().parents[2]


def test_mint_sets_the_documented_claims() -> None:
    token = mint_token(SECRET, sub="alice", session_id="lab-1", ttl_seconds=120, now=1_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert header["alg"] == "HS256"
    assert claims == {"sub": "alice", "sessionId": "lab-1", "iat": 1_000, "exp": 1_120}


def _check(**settings: Any) -> TokenCheck:
    return TokenCheck.with_secret(SECRET, **settings)


def _reason(check: TokenCheck, token: str) -> str:
    with pytest.raises(InvalidTokenError) as refused:
        check.identify(token)
    return refused.value.reason


def test_mint_leaves_out_what_is_not_given() -> None:
    claims = _check().identify(mint_token(SECRET, sub="bob")).claims
    assert "sessionId" not in claims
    assert "iss" not in claims
    assert "aud" not in claims


def test_round_trip_with_issuer_and_audience() -> None:
    check = _check(issuer="https://issuer.test", audience="labs")
    token = mint_token(SECRET, sub="alice", issuer="https://issuer.test", audience="labs")
    assert check.identify(token).user_id == "alice"
    wrong = mint_token(SECRET, sub="a", issuer="https://x.test", audience="labs")
    assert _reason(check, wrong) == "wrong_issuer"
    assert _reason(check, mint_token(SECRET, sub="a", issuer="https://issuer.test")) == (
        "missing_claim:aud"
    )


def test_verification_rejects_defects() -> None:
    check = _check(leeway_seconds=30)
    now = int(time.time())
    other = mint_token("some-other-secret-of-32-bytes-or-more", sub="alice")
    assert _reason(check, other) == "bad_signature"
    assert _reason(check, mint_token(SECRET, sub="alice", now=now - 100, ttl_seconds=60)) == (
        "expired"
    )
    # Past exp, even inside the leeway: refused, as every message would be.
    assert _reason(check, mint_token(SECRET, sub="alice", now=now - 80, ttl_seconds=60)) == (
        "expired"
    )
    assert check.identify(mint_token(SECRET, sub="alice", now=now - 50, ttl_seconds=60))
    future = mint_token(SECRET, sub="alice", extra_claims={"nbf": now + 600})
    assert _reason(check, future) == "not_yet_valid"
    assert _reason(check, mint_token(SECRET, sub="alice", extra_claims={"sub": ""})) == (
        "bad_user_claim"
    )
    listed = mint_token(SECRET, sub="alice", extra_claims={"sessionId": ["a"]})
    assert _reason(check, listed) == "bad_session_claim"
    unsigned = jwt.encode({"sub": "alice", "exp": now + 60}, "", algorithm="none")
    assert _reason(check, unsigned) == "algorithm_not_allowed"


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """ws_bridge.authorizer (it reads its settings from the environment when imported)."""
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:0:secret:x")
    monkeypatch.setenv("JWT_ALGORITHMS", "HS256")
    return importlib.import_module("ws_bridge.authorizer")


def test_the_backend_check_and_the_authorizer_agree_on_every_claim_shape(
    authorizer: ModuleType,
) -> None:
    """One verifier: what the deployed authorizer allows, the backend accepts with the same
    ids, and what it refuses, the backend
    refuses for the same reason."""
    check = _check()
    verifier = TokenVerifier(check.settings, secret_loader=lambda _settings: SECRET.encode())
    shapes: list[dict[str, Any]] = [
        {"sub": 42},
        {"sub": "alice", "sessionId": 7},
        {"sub": True},
        {"sub": 1.5},
        {"sub": "x" * MAX_ID_LENGTH},
        {"sub": "x" * (MAX_ID_LENGTH + 1)},
        {"sub": "alice", "sessionId": ""},
        {"sub": "alice", "sessionId": False},
        {"sub": "alice", "sessionId": "lab-1"},
        {"sub": "alice", "sessionId": ".."},
        {"sub": "alice/../admin"},
        {"sub": "auth0|abc123"},
    ]
    for claims in shapes:
        token = mint_token(SECRET, sub="alice", extra_claims=claims)
        event = {"headers": {"Authorization": f"Bearer {token}"}}
        decision: Any
        try:
            decision = authorizer.authorize(event, check.settings, verifier)
        except InvalidTokenError as refused:
            decision = refused.reason
        if isinstance(decision, str):
            assert _reason(check, token) == decision, claims
            continue
        assert isinstance(decision, authorizer.Allow), claims
        identity = check.identify(token)
        assert (identity.user_id, identity.session_id or "") == (
            decision.user_id,
            decision.session_id,
        ), claims
    # A numeric session claim is id "7" on both sides (the old backend verifier refused it).
    token = mint_token(SECRET, sub="alice", extra_claims={"sessionId": 7})
    assert check.identify(token).session_id == "7"


def test_a_custom_user_claim() -> None:
    check = _check(user_claim="uid")
    token = mint_token(SECRET, sub="ignored", extra_claims={"uid": "u-7"})
    assert check.identify(token).user_id == "u-7"
    assert _reason(check, mint_token(SECRET, sub="alice")) == "missing_claim:uid"


def test_mint_refuses_empty_inputs() -> None:
    with pytest.raises(ValueError, match="secret"):
        mint_token("", sub="alice")
    with pytest.raises(ValueError, match="sub"):
        mint_token(SECRET, sub="")


def test_read_secret_and_mint_from_a_secret_arn(
    aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="ws/jwt", SecretString=SECRET)[
            "ARN"
        ]
        assert read_secret(arn) == SECRET
        code = client.main(["mint", "--secret-arn", arn, "--sub", "alice", "--session", "lab-1"])
    assert code == 0
    token = capsys.readouterr().out.strip()
    claims = _check().identify(token).claims
    assert (claims["sub"], claims["sessionId"]) == ("alice", "lab-1")
    assert claims["exp"] - claims["iat"] == 3600


def test_mint_cli_with_a_literal_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code = client.main(
        ["mint", "--secret", SECRET, "--sub", "bob", "--ttl", "60", "--iss", "i", "--aud", "a"]
    )
    assert code == 0
    claims = _check(issuer="i", audience="a").identify(capsys.readouterr().out.strip()).claims
    assert claims["exp"] - claims["iat"] == 60
    assert client.main(["mint", "--secret", SECRET]) == client.EXIT_USAGE
