"""Key providers: the Secrets Manager one re-reads on its TTL and, rate-limited, after a
signature that matches no key, so a rotation during live traffic refuses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from ws_bridge_backend.keys import SecretsManagerKeys
from ws_bridge_backend.signing import InvalidKeyError, sign_request
from ws_bridge_backend.verifier import RequestVerifier, SignatureError

REGION = "eu-west-1"
OLD = b"old-key-" * 5
NEW = b"new-key-" * 5
NEWER = b"newer-key-" * 4
NOW = 1_800_000_000


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Counting:
    """A Secrets Manager client that counts its calls and can fail."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self.failing = False

    def get_secret_value(self, **arguments: Any) -> Any:
        self.calls += 1
        if self.failing:
            raise EndpointConnectionError(endpoint_url="https://secretsmanager")
        return self.client.get_secret_value(**arguments)


@pytest.fixture
def secrets() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arn = client.create_secret(Name="signing", SecretString=OLD.decode())["ARN"]
        yield client, arn


def provider(secrets: tuple[Any, str], clock: Clock, **options: Any) -> tuple[Any, Counting]:
    client, arn = secrets
    counting = Counting(client)
    return SecretsManagerKeys(arn, client=counting, clock=clock, **options), counting


def test_current_and_previous_are_read(secrets: tuple[Any, str]) -> None:
    client, arn = secrets
    keys, _ = provider(secrets, Clock())
    assert list(keys.current()) == [OLD]
    client.put_secret_value(SecretId=arn, SecretString=NEW.decode())
    fresh, _ = provider(secrets, Clock())
    assert list(fresh.current()) == [NEW, OLD]


def test_keys_are_re_read_after_their_ttl(secrets: tuple[Any, str]) -> None:
    client, arn = secrets
    clock = Clock()
    keys, counting = provider(secrets, clock, ttl_seconds=10)
    client.put_secret_value(SecretId=arn, SecretString=NEW.decode())
    clock.now = 9.9
    assert list(keys.current()) == [OLD]
    clock.now = 10
    assert list(keys.current()) == [NEW, OLD]
    assert counting.calls == 2 + 2  # AWSCURRENT and AWSPREVIOUS at start, then once more


def test_a_signature_matching_no_key_re_reads_at_most_once_per_interval(
    secrets: tuple[Any, str],
) -> None:
    client, arn = secrets
    clock = Clock()
    keys, counting = provider(secrets, clock, ttl_seconds=300, mismatch_refresh_seconds=5)
    verifier = RequestVerifier(keys, clock=lambda: NOW)
    forged = b"forger-key-" * 4
    calls = counting.calls
    for n in range(20):  # forged traffic: no Secrets Manager call per request
        clock.now = 6 + n * 0.1
        with pytest.raises(SignatureError, match="bad_signature"):
            verifier.verify("GET", "/v", sign_request(forged, "GET", "/v", now=NOW), b"")
    assert counting.calls - calls == 2  # one read: AWSCURRENT, AWSPREVIOUS (absent)
    # A rotation between two TTL reads: the first request signed with the new key reads again.
    client.put_secret_value(SecretId=arn, SecretString=NEW.decode())
    clock.now = 20
    verifier.verify("GET", "/v", sign_request(NEW, "GET", "/v", now=NOW), b"")
    verifier.verify("GET", "/v", sign_request(OLD, "GET", "/v", now=NOW), b"")


def test_a_failed_re_read_keeps_the_last_keys_and_retries_later(
    secrets: tuple[Any, str],
) -> None:
    clock = Clock()
    keys, counting = provider(secrets, clock, ttl_seconds=10, retry_seconds=5)
    counting.failing = True
    clock.now = 10
    assert list(keys.current()) == [OLD]
    clock.now = 14
    assert list(keys.current()) == [OLD]
    assert counting.calls == 2 + 1  # not asked again before retry_seconds
    counting.failing = False
    clock.now = 15
    assert list(keys.current()) == [OLD]
    assert counting.calls == 3 + 2


def test_a_provider_that_never_read_a_key_fails_at_start(secrets: tuple[Any, str]) -> None:
    client, _ = secrets
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        SecretsManagerKeys("absent", client=client)


def test_a_short_current_key_is_refused_and_a_short_previous_left_out(
    secrets: tuple[Any, str],
) -> None:
    client, arn = secrets
    client.put_secret_value(SecretId=arn, SecretString="short")
    with pytest.raises(InvalidKeyError):
        provider(secrets, Clock())
    client.put_secret_value(SecretId=arn, SecretString=NEW.decode())  # previous: "short"
    keys, _ = provider(secrets, Clock())
    assert list(keys.current()) == [NEW]


def test_a_short_key_arriving_by_rotation_keeps_the_good_ones(secrets: tuple[Any, str]) -> None:
    client, arn = secrets
    clock = Clock()
    keys, _ = provider(secrets, clock, ttl_seconds=10)
    client.put_secret_value(SecretId=arn, SecretString="too short")
    clock.now = 11
    assert list(keys.current()) == [OLD]


def test_a_rotation_during_traffic_refuses_nothing(secrets: tuple[Any, str]) -> None:
    """The handler signs with a new AWSCURRENT once it is key_refresh_seconds old: with a
    verifier TTL no longer than that, every request verifies, before, during and after."""
    client, arn = secrets
    clock = Clock()
    keys, _ = provider(secrets, clock, ttl_seconds=30)
    verifier = RequestVerifier(keys, clock=lambda: NOW + clock.now)
    signing_with = OLD
    for second in range(0, 200):
        clock.now = float(second)
        if second == 50:
            client.put_secret_value(SecretId=arn, SecretString=NEW.decode())
        if second == 80:  # 30 s after the rotation: the handler switches
            signing_with = NEW
        if second == 150:
            client.put_secret_value(SecretId=arn, SecretString=NEWER.decode())
        if second == 180:
            signing_with = NEWER
        now = NOW + second
        verifier.verify("GET", "/v", sign_request(signing_with, "GET", "/v", now=now), b"")
    with pytest.raises(SignatureError, match="bad_signature"):  # two rotations later: gone
        verifier.verify("GET", "/v", sign_request(OLD, "GET", "/v", now=NOW + 199), b"")
