"""Development tokens: minting, verification round trips, secrets from Secrets Manager, CLIs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import jwt
import pytest
import urllib3
from moto import mock_aws

from wslocal import client
from wslocal.devtoken import TokenVerifier, mint_token, read_secret

SECRET = "a-development-secret-of-at-least-32-bytes"
ROOT = Path(__file__).resolve().parents[2]


def test_mint_sets_the_documented_claims() -> None:
    token = mint_token(SECRET, sub="alice", session_id="lab-1", ttl_seconds=120, now=1_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert header["alg"] == "HS256"
    assert claims == {"sub": "alice", "sessionId": "lab-1", "iat": 1_000, "exp": 1_120}


def test_mint_leaves_out_what_is_not_given() -> None:
    claims = TokenVerifier(SECRET).verify(mint_token(SECRET, sub="bob"))
    assert "sessionId" not in claims
    assert "iss" not in claims
    assert "aud" not in claims


def test_round_trip_with_issuer_and_audience() -> None:
    verifier = TokenVerifier(SECRET, issuer="https://issuer.test", audience="labs")
    token = mint_token(SECRET, sub="alice", issuer="https://issuer.test", audience="labs")
    assert verifier.verify(token)["sub"] == "alice"
    with pytest.raises(jwt.InvalidIssuerError):
        verifier.verify(mint_token(SECRET, sub="a", issuer="https://x.test", audience="labs"))
    with pytest.raises(jwt.MissingRequiredClaimError):
        verifier.verify(mint_token(SECRET, sub="a", issuer="https://issuer.test"))


def test_verification_rejects_defects() -> None:
    verifier = TokenVerifier(SECRET, leeway_seconds=30)
    now = int(time.time())
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(mint_token("some-other-secret-of-32-bytes-or-more", sub="alice"))
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier.verify(mint_token(SECRET, sub="alice", now=now - 100, ttl_seconds=60))
    # Inside the leeway: accepted.
    assert verifier.verify(mint_token(SECRET, sub="alice", now=now - 80, ttl_seconds=60))
    with pytest.raises(jwt.ImmatureSignatureError):
        verifier.verify(mint_token(SECRET, sub="alice", extra_claims={"nbf": now + 600}))
    with pytest.raises(jwt.InvalidTokenError, match=r"(?i)sub"):
        verifier.verify(mint_token(SECRET, sub="alice", extra_claims={"sub": 42}))
    with pytest.raises(jwt.InvalidTokenError, match="sessionId"):
        verifier.verify(mint_token(SECRET, sub="alice", extra_claims={"sessionId": ["a"]}))
    unsigned = jwt.encode({"sub": "alice", "exp": now + 60}, "", algorithm="none")
    with pytest.raises(jwt.InvalidAlgorithmError):
        verifier.verify(unsigned)


def test_a_custom_user_claim() -> None:
    verifier = TokenVerifier(SECRET, user_claim="uid")
    token = mint_token(SECRET, sub="ignored", extra_claims={"uid": "u-7"})
    assert verifier.verify(token)["uid"] == "u-7"
    with pytest.raises(jwt.MissingRequiredClaimError):
        verifier.verify(mint_token(SECRET, sub="alice"))
    with pytest.raises(jwt.InvalidTokenError, match="uid"):
        verifier.verify(mint_token(SECRET, sub="alice", extra_claims={"uid": 7}))


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
    claims = TokenVerifier(SECRET).verify(token)
    assert (claims["sub"], claims["sessionId"]) == ("alice", "lab-1")
    assert claims["exp"] - claims["iat"] == 3600


def test_mint_cli_with_a_literal_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code = client.main(
        ["mint", "--secret", SECRET, "--sub", "bob", "--ttl", "60", "--iss", "i", "--aud", "a"]
    )
    assert code == 0
    claims = TokenVerifier(SECRET, issuer="i", audience="a").verify(capsys.readouterr().out.strip())
    assert claims["exp"] - claims["iat"] == 60
    assert client.main(["mint", "--secret", SECRET]) == client.EXIT_USAGE


def test_backend_process_prints_ready_serves_and_stops_on_sigterm() -> None:
    token = mint_token(SECRET, sub="alice", session_id="lab-1")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda'}{os.pathsep}{ROOT / 'local'}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wslocal.reference_backend",
            "--port",
            "0",
            "--jwt-secret",
            SECRET,
            "--session",
            "lab-1:alice",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        assert ready.startswith("backend ready http://127.0.0.1:")
        url = ready.removeprefix("backend ready ")
        http = urllib3.PoolManager()
        response = http.request(
            "GET",
            f"{url}/api/labs/session/lab-1/validate",
            headers={"Authorization": f"Bearer {token}"},
            retries=False,
        )
        assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    logs = process.stderr.read()
    assert '"route": "/api/labs/session/{sessionId}/validate"' in logs
    assert token not in logs
    assert token.split(".")[2] not in logs
