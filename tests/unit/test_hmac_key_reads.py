"""How often the authorizer reads its HMAC secret: one ``GetSecretValue`` on a cold start
(AWSCURRENT), AWSPREVIOUS only once a token matches no key held, and never a burst of reads
for forged tokens. moto's Secrets Manager, each call counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bridge_fakes import REGION, SECRET, hs_token

from ws_bridge import aws
from ws_bridge.jwt_verifier import InvalidTokenError, TokenVerifier
from ws_bridge.settings import AuthorizerSettings

OLD, NEW = SECRET, SECRET[::-1]
FORGED = "forged-secret-0123456789-0123456789-abcdefghij"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reads(moto: None) -> Iterator[list[str]]:
    """The VersionStage of each GetSecretValue the authorizer's client makes."""
    aws.reset_clients()
    seen: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        seen.append(params.get("VersionStage", "AWSCURRENT"))

    aws.secretsmanager().meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue", count
    )
    yield seen
    aws.reset_clients()


def rotated_secret() -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="rotating", SecretString=OLD)["ARN"]
    client.put_secret_value(SecretId=arn, SecretString=NEW)  # OLD is now AWSPREVIOUS
    return str(arn)


def test_a_cold_start_reads_the_current_version_only(reads: list[str]) -> None:
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=rotated_secret()))
    assert verifier.verify(hs_token(NEW))["sub"] == "user-1"
    assert verifier.verify(hs_token(NEW))["sub"] == "user-1"
    assert reads == ["AWSCURRENT"]


def test_a_token_of_the_previous_key_reads_it_at_once_and_passes(reads: list[str]) -> None:
    clock = Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=rotated_secret()), clock=clock)
    assert verifier.verify(hs_token(NEW))["sub"] == "user-1"
    assert verifier.verify(hs_token(OLD))["sub"] == "user-1"  # no 30 s wait: not read yet
    assert reads == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]
    assert verifier.verify(hs_token(OLD))["sub"] == "user-1"  # held from now on
    assert len(reads) == 3


def test_forged_tokens_cost_one_read_then_wait_for_the_rate_limit(reads: list[str]) -> None:
    clock = Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=rotated_secret()), clock=clock)
    for _ in range(5):
        with pytest.raises(InvalidTokenError, match="bad_signature"):
            verifier.verify(hs_token(FORGED))
    # The first read, then one complete read at the first mismatch; none after.
    assert reads == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]
    clock.now += 31
    with pytest.raises(InvalidTokenError, match="bad_signature"):
        verifier.verify(hs_token(FORGED))
    assert len(reads) == 5


def test_the_periodic_re_read_drops_back_to_the_current_version(reads: list[str]) -> None:
    clock = Clock()
    verifier = TokenVerifier(AuthorizerSettings(secret_arn=rotated_secret()), clock=clock)
    verifier.verify(hs_token(OLD))  # current, then both
    clock.now += 301
    assert verifier.verify(hs_token(NEW))["sub"] == "user-1"
    assert reads == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS", "AWSCURRENT"]
