"""DynamoDB faults at the handler entry point, with a fake DynamoDB endpoint that throttles,
fails or hangs: bounded retries with exponential backoff, then a clean rejection well inside
API Gateway's 29 s integration limit, and nothing stored.

The retries are the registry's own (ws_bridge.connections_table; botocore makes one attempt
per call). Its backoff delays are recorded at the worst jitter instead of slept, so the tests
prove that the retries do back off and how long the worst case lasts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any

import pytest
from bridge_fakes import PATIENT_TIMEOUT, FakeServer, Reply, hs_token, load_event, set_query

from ws_bridge import aws, connections_table

VALIDATE = "/api/labs/session/sess-1/validate"
DISCONNECT = "/api/ws/disconnect"
INTEGRATION_LIMIT_SECONDS = 29.0


@dataclass
class Backoffs:
    """The delays the registry's retry loop asked for, with the largest jitter, none slept."""

    delays: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.delays)


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> Backoffs:
    recorded = Backoffs()
    monkeypatch.setattr(connections_table, "_jitter", lambda: 1.0)
    monkeypatch.setattr(connections_table, "_sleep", recorded.delays.append)
    return recorded


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A fake DynamoDB endpoint for the handler's client (the backend is another server)."""
    fake = FakeServer().start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fake.url)
    aws.reset_clients()
    yield fake
    fake.stop()
    aws.reset_clients()


@pytest.fixture
def handler(
    load_handler: Callable[..., ModuleType], server: FakeServer, dynamodb: FakeServer
) -> ModuleType:
    server.reply("POST", VALIDATE, Reply(200, {"valid": True}))
    server.reply("POST", DISCONNECT, Reply(200, b""))
    return load_handler(
        CONNECTIONS_TABLE="ws-bridge-connections",
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS=PATIENT_TIMEOUT,
        DISCONNECT_TIMEOUT_SECONDS=PATIENT_TIMEOUT,
    )


def dynamodb_error(
    code: str, status: int = 400, headers: Mapping[str, str] = MappingProxyType({})
) -> Reply:
    return Reply(
        status,
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "fake"},
        headers={"Content-Type": "application/x-amz-json-1.0", **headers},
    )


def connect_event() -> dict[str, Any]:
    return set_query(load_event("connect"), token=hs_token())


def worst_case_seconds(attempts: int, backoffs: Backoffs) -> float:
    """Every attempt runs into both socket timeouts, plus every backoff delay; never more
    than the budget the handler reserves for DynamoDB."""
    config = aws.dynamodb().meta.config
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)  # type: ignore[attr-defined]
    worst = attempts * per_attempt + backoffs.total
    assert worst <= aws.REGISTRY_BUDGET_SECONDS
    return worst


@pytest.mark.parametrize(
    ("reply", "delays"),
    [
        (dynamodb_error("ProvisionedThroughputExceededException"), [0.25, 0.5]),
        (dynamodb_error("ThrottlingException"), [0.25, 0.5]),
        (dynamodb_error("InternalServerError", 500), [0.025, 0.05]),
        (dynamodb_error("ServiceUnavailable", 503), [0.025, 0.05]),
    ],
    ids=["provisioned-throughput", "throttling", "internal-error", "unavailable"],
)
def test_transient_errors_are_retried_with_backoff_then_rejected_with_503(
    handler: ModuleType,
    dynamodb: FakeServer,
    backoffs: Backoffs,
    capsys: pytest.CaptureFixture[str],
    reply: Reply,
    delays: list[float],
) -> None:
    dynamodb.reply("POST", "/", reply)
    response = handler.handler(connect_event(), None)
    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"error": "registry_unavailable"}
    attempts = dynamodb.seen("POST", "/")
    assert [json.loads(a.body)["Item"]["connectionId"]["S"] for a in attempts] == [
        "R0oXAdfD0kwCH6w="
    ] * 3
    assert backoffs.delays == pytest.approx(delays)  # exponential: base, then twice the base
    assert worst_case_seconds(len(attempts), backoffs) < INTEGRATION_LIMIT_SECONDS
    logged = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line.strip()]
    (failure,) = [line for line in logged if line.get("message") == "connection not stored"]
    assert failure["transient"] is True


def test_a_retry_after_hint_cannot_push_connect_past_the_integration_limit(
    handler: ModuleType, dynamodb: FakeServer, backoffs: Backoffs
) -> None:
    # A throttled answer asking for a retry in 10 minutes: newer botocores would wait up to
    # 5 s more per retry; the registry's loop keeps its own backoffs.
    dynamodb.reply(
        "POST",
        "/",
        dynamodb_error("ThrottlingException", headers={"x-amz-retry-after": "600000"}),
    )
    assert handler.handler(connect_event(), None)["statusCode"] == 503
    assert len(dynamodb.seen("POST", "/")) == 3
    assert backoffs.delays == pytest.approx([0.25, 0.5])
    assert worst_case_seconds(3, backoffs) < INTEGRATION_LIMIT_SECONDS


def test_permanent_errors_are_rejected_at_once_with_500(
    handler: ModuleType, dynamodb: FakeServer, backoffs: Backoffs
) -> None:
    dynamodb.reply("POST", "/", dynamodb_error("AccessDeniedException"))
    assert handler.handler(connect_event(), None)["statusCode"] == 500
    assert len(dynamodb.seen("POST", "/")) == 1
    assert backoffs.delays == []


def test_a_dynamodb_that_never_answers_ends_in_503_within_the_socket_timeouts(
    handler: ModuleType, dynamodb: FakeServer, backoffs: Backoffs
) -> None:
    read_timeout = float(aws.dynamodb().meta.config.read_timeout)  # type: ignore[attr-defined]
    dynamodb.reply("POST", "/", Reply(200, {}, delay=read_timeout + 1))
    started = time.monotonic()
    assert handler.handler(connect_event(), None)["statusCode"] == 503
    elapsed = time.monotonic() - started
    assert len(dynamodb.seen("POST", "/")) == 3
    assert 3 * read_timeout <= elapsed < 3 * read_timeout + 2
    assert worst_case_seconds(3, backoffs) < INTEGRATION_LIMIT_SECONDS


def test_disconnect_with_dynamodb_throttled_still_answers_and_notifies(
    handler: ModuleType,
    dynamodb: FakeServer,
    server: FakeServer,
    backoffs: Backoffs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The record stays behind; its expiresAt (TTL) removes it later.
    dynamodb.reply("POST", "/", dynamodb_error("ProvisionedThroughputExceededException"))
    assert handler.handler(load_event("disconnect"), None) == {"statusCode": 200, "body": ""}
    assert len(dynamodb.seen("POST", "/")) == 3
    (notice,) = server.seen("POST", DISCONNECT)
    assert notice.json()["connectionId"] == "R0oXAdfD0kwCH6w="
    logged = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line.strip()]
    assert any(
        line.get("message") == "record not deleted"
        and line["code"] == "ProvisionedThroughputExceededException"
        for line in logged
    )


@dataclass(frozen=True)
class LambdaContext:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_disconnect_makes_no_dynamodb_attempt_that_could_outlast_the_invocation(
    handler: ModuleType, dynamodb: FakeServer, server: FakeServer, backoffs: Backoffs
) -> None:
    # 3.5 s left, 0.5 s kept to answer: after one attempt that waits out the read timeout
    # (1 s), another (up to 2 s, after its backoff) would end past the 3 s left for DynamoDB.
    read_timeout = float(aws.dynamodb().meta.config.read_timeout)  # type: ignore[attr-defined]
    dynamodb.reply("POST", "/", Reply(200, {}, delay=read_timeout + 1))
    started = time.monotonic()
    response = handler.handler(load_event("disconnect"), LambdaContext(remaining_ms=3500))
    elapsed = time.monotonic() - started
    assert response == {"statusCode": 200, "body": ""}
    assert len(dynamodb.seen("POST", "/")) == 1
    assert backoffs.delays == []
    assert len(server.seen("POST", DISCONNECT)) == 1  # the time saved is the notice's
    assert elapsed < 3.5 - 0.5
