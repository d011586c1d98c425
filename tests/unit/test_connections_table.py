"""The DynamoDB registry against moto, plus a fake DynamoDB endpoint for throttling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber
from bridge_fakes import REGION, TABLE, FakeServer, Reply, scan

from ws_bridge import aws, connections_table
from ws_bridge.connections_table import Connection, RegistryError
from ws_bridge_backend.registry import ConnectionRegistry


def test_put_stores_every_attribute_with_ttl_in_seconds(table: str) -> None:
    before = time.time()
    record = connections_table.new_connection(
        "c1=", "s1", "u1", ttl_seconds=7200, connected_at_ms=1_705_054_530_123
    )
    connections_table.put_connection(table, record)
    stored = scan()["c1="]
    assert stored == {
        "connectionId": "c1=",
        "sessionId": "s1",
        "userId": "u1",
        "connectedAt": 1_705_054_530_123,
        "expiresAt": record.expires_at,
    }
    # epoch SECONDS two hours ahead: a millisecond value would be ~1000 times larger
    assert int(before) + 7200 <= stored["expiresAt"] <= int(time.time()) + 7200
    assert stored["expiresAt"] < 10**10


def test_new_connection_defaults_connected_at_to_now_in_ms() -> None:
    record = connections_table.new_connection("c", "s", "u", ttl_seconds=60, now=1_700_000_000.5)
    assert record.connected_at == 1_700_000_000_500
    assert record.expires_at == 1_700_000_060


def test_empty_keys_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        connections_table.put_connection(
            table, connections_table.new_connection("c", "", "u", ttl_seconds=60)
        )


def test_delete_is_idempotent(table: str) -> None:
    connections_table.put_connection(
        table, connections_table.new_connection("c1", "s", "u", ttl_seconds=60)
    )
    connections_table.put_connection(
        table, connections_table.new_connection("c2", "s", "u", ttl_seconds=60)
    )
    connections_table.delete_connection(table, "c1")
    connections_table.delete_connection(table, "c1")
    connections_table.delete_connection(table, "never-existed")
    assert list(scan()) == ["c2"]


def test_queries_by_session_and_user(table: str) -> None:
    for cid, session, user in [("a", "s1", "u1"), ("b", "s1", "u2"), ("c", "s2", "u1")]:
        connections_table.put_connection(
            table, connections_table.new_connection(cid, session, user, ttl_seconds=60)
        )
    # Read back as backends read them: the SDK's registry.
    by_session = ConnectionRegistry(table).for_session("s1")
    assert sorted(c.connection_id for c in by_session) == ["a", "b"]
    by_user = ConnectionRegistry(table).for_user("u1")
    assert sorted(c.connection_id for c in by_user) == ["a", "c"]
    assert ConnectionRegistry(table).for_session("nobody") == []


def test_expired_records_are_not_returned(table: str) -> None:
    now = time.time()
    connections_table.put_connection(
        table, connections_table.new_connection("old", "s", "u", ttl_seconds=60, now=now - 120)
    )
    connections_table.put_connection(
        table, connections_table.new_connection("new", "s", "u", ttl_seconds=60, now=now)
    )
    assert [c.connection_id for c in ConnectionRegistry(table).for_session("s")] == ["new"]


def test_query_follows_every_page() -> None:
    # moto returns one page for small tables; the pagination loop is checked with a stub.
    client = boto3.client("dynamodb", region_name=REGION)
    future = str(int(time.time()) + 600)

    def item(cid: str) -> dict[str, dict[str, str]]:
        return {
            "connectionId": {"S": cid},
            "sessionId": {"S": "s"},
            "userId": {"S": "u"},
            "connectedAt": {"N": "1"},
            "expiresAt": {"N": future},
        }

    base = {
        "TableName": TABLE,
        "IndexName": "sessionId-index",
        "KeyConditionExpression": "#key = :value",
        "ExpressionAttributeNames": {"#key": "sessionId"},
        "ExpressionAttributeValues": {":value": {"S": "s"}},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "query",
            {"Items": [item("a")], "LastEvaluatedKey": {"connectionId": {"S": "a"}}},
            base,
        )
        stub.add_response(
            "query",
            {"Items": [item("b")]},
            {**base, "ExclusiveStartKey": {"connectionId": {"S": "a"}}},
        )
        found = ConnectionRegistry(TABLE, dynamodb=client).for_session("s")
        stub.assert_no_pending_responses()
    assert [c.connection_id for c in found] == ["a", "b"]


@dataclass
class Clock:
    """The retry loop's clock, sleep and jitter: time passes only when told to."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Replace the loop's clock and sleep (no real sleeps), and take the largest jitter."""
    fake = Clock()
    monkeypatch.setattr(connections_table, "_clock", fake)
    monkeypatch.setattr(connections_table, "_sleep", fake.sleep)
    monkeypatch.setattr(connections_table, "_jitter", lambda: 1.0)
    return fake


@pytest.fixture
def fake_dynamodb(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> Iterator[FakeServer]:
    """Point the package's DynamoDB client at a local server; backoffs recorded, not slept."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    aws.reset_clients()
    yield server
    aws.reset_clients()


def dynamodb_error(code: str, status: int = 400) -> Reply:
    return Reply(
        status,
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "fake"},
        headers={"Content-Type": "application/x-amz-json-1.0"},
    )


def stubbed(clock: Clock, seconds_per_call: float = 0.0) -> tuple[Any, Stubber]:
    """A DynamoDB client with a Stubber; each call costs ``seconds_per_call`` on the clock."""
    client = boto3.client("dynamodb", region_name=REGION)

    def spend(**kwargs: Any) -> None:
        clock.now += seconds_per_call

    client.meta.events.register("before-parameter-build.dynamodb", spend)
    return client, Stubber(client)


def a_record() -> Connection:
    return connections_table.new_connection("c", "s", "u", ttl_seconds=60)


def test_the_client_makes_one_attempt_and_the_registry_retries(
    fake_dynamodb: FakeServer,
) -> None:
    # botocore's own retries are off (their backoff depends on its version): each of the
    # three attempts is a call of its own (its invocation id) and that call's first attempt.
    fake_dynamodb.reply("POST", "/", dynamodb_error("ProvisionedThroughputExceededException"))
    with pytest.raises(RegistryError) as caught:
        connections_table.put_connection(TABLE, a_record())
    assert caught.value.transient
    assert caught.value.code == "ProvisionedThroughputExceededException"
    attempts = fake_dynamodb.seen("POST", "/")
    assert len(attempts) == 3
    assert len({r.headers["amz-sdk-invocation-id"] for r in attempts}) == 3
    # "attempt=1; max=1" from newer botocores, "attempt=1" from 1.34.x (the Lambda runtime's)
    assert all(r.headers["amz-sdk-request"].split("; ")[0] == "attempt=1" for r in attempts)


def test_a_transient_error_then_success_takes_two_attempts(clock: Clock) -> None:
    client, stub = stubbed(clock)
    with stub:
        stub.add_client_error("put_item", "InternalServerError", http_status_code=500)
        stub.add_response("put_item", {})
        connections_table.put_connection(TABLE, a_record(), dynamodb=client)
        stub.assert_no_pending_responses()
    assert clock.sleeps == [aws.REGISTRY_BACKOFF_SECONDS[0]]


def test_a_network_error_then_success_takes_two_attempts(clock: Clock) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    calls: list[str] = []

    def flaky(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs["TableName"])
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.test")
        return {}

    client.delete_item = flaky  # type: ignore[method-assign]
    connections_table.delete_connection(TABLE, "c", dynamodb=client)
    assert calls == [TABLE, TABLE]
    assert clock.sleeps == [aws.REGISTRY_BACKOFF_SECONDS[0]]


def test_throttling_three_times_gives_up_after_three_attempts(clock: Clock) -> None:
    client, stub = stubbed(clock)
    with stub:
        for _ in range(3):
            stub.add_client_error("put_item", "ThrottlingException")
        with pytest.raises(RegistryError) as caught:
            connections_table.put_connection(TABLE, a_record(), dynamodb=client)
        stub.assert_no_pending_responses()  # all three used, and no fourth asked for
    assert (caught.value.code, caught.value.transient) == ("ThrottlingException", True)
    assert clock.sleeps == list(aws.REGISTRY_THROTTLED_BACKOFF_SECONDS)


def test_a_botocore_error_that_is_not_the_network_is_not_retried(clock: Clock) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    calls: list[str] = []

    def no_credentials(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs["TableName"])
        raise NoCredentialsError()

    client.put_item = no_credentials  # type: ignore[method-assign]
    with pytest.raises(RegistryError) as caught:
        connections_table.put_connection(TABLE, a_record(), dynamodb=client)
    assert caught.value.code == "NoCredentialsError"
    assert calls == [TABLE]
    assert clock.sleeps == []


def test_permanent_errors_are_not_retried(fake_dynamodb: FakeServer, clock: Clock) -> None:
    fake_dynamodb.reply("POST", "/", dynamodb_error("ResourceNotFoundException"))
    with pytest.raises(RegistryError) as caught:
        connections_table.delete_connection(TABLE, "c")
    assert not caught.value.transient
    assert caught.value.code == "ResourceNotFoundException"
    assert len(fake_dynamodb.seen("POST", "/")) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("seconds_left", "attempts"),
    [(1.9, 0), (2.0, 1), (4.2, 1), (4.25, 2), (6.75, 3)],
)
def test_no_attempt_starts_that_could_not_end_before_the_deadline(
    clock: Clock, seconds_left: float, attempts: int
) -> None:
    # Every attempt is throttled after the worst wait (both socket timeouts, 2 s): the next
    # attempt starts only when it, and the backoff before it, can still end in time.
    client, stub = stubbed(clock, seconds_per_call=aws.REGISTRY_ATTEMPT_SECONDS)
    started = clock.now
    with stub:
        for _ in range(attempts):
            stub.add_client_error("put_item", "ThrottlingException")
        with pytest.raises(RegistryError) as caught:
            connections_table.put_connection(
                TABLE, a_record(), dynamodb=client, deadline=started + seconds_left
            )
        stub.assert_no_pending_responses()
    assert caught.value.transient
    assert caught.value.code == ("DeadlineExceeded" if attempts == 0 else "ThrottlingException")
    assert len(clock.sleeps) == max(attempts - 1, 0)
    assert clock.now - started <= seconds_left


def test_the_budget_is_the_worst_case_of_the_loop(clock: Clock) -> None:
    # No deadline: three attempts that each wait out both socket timeouts, then fail with
    # the error that backs off longest.
    client, stub = stubbed(clock, seconds_per_call=aws.REGISTRY_ATTEMPT_SECONDS)
    started = clock.now
    with stub:
        for _ in range(3):
            stub.add_client_error("put_item", "ProvisionedThroughputExceededException")
        with pytest.raises(RegistryError):
            connections_table.put_connection(TABLE, a_record(), dynamodb=client)
    assert clock.now - started == pytest.approx(aws.REGISTRY_BUDGET_SECONDS)
    assert aws.REGISTRY_BUDGET_SECONDS == 6.75


def test_unreachable_dynamodb_is_transient_and_retried(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    from bridge_fakes import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()
    with pytest.raises(RegistryError) as caught:
        connections_table.delete_connection(TABLE, "c")
    assert caught.value.transient
    assert caught.value.code == "EndpointConnectionError"
    assert clock.sleeps == list(aws.REGISTRY_BACKOFF_SECONDS)  # three attempts


def test_the_dynamodb_client_makes_one_attempt_with_short_timeouts(moto: None) -> None:
    config = aws.dynamodb().meta.config
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.connect_timeout + config.read_timeout == aws.REGISTRY_ATTEMPT_SECONDS
    assert aws.dynamodb() is aws.dynamodb()


@pytest.mark.parametrize("client", [aws.secretsmanager, aws.ssm])
def test_secrets_and_parameters_keep_botocores_bounded_retries(
    moto: None, client: Callable[[], Any]
) -> None:
    config = client().meta.config
    assert config.retries == {"total_max_attempts": 3, "mode": "standard"}
    assert config.connect_timeout + config.read_timeout <= 2


def test_a_hanging_dynamodb_is_given_up_after_three_short_attempts(
    fake_dynamodb: FakeServer,
) -> None:
    # Real time: the read timeout ends each attempt (the clock fixture skips the backoffs).
    fake_dynamodb.reply("POST", "/", Reply(200, {}, delay=2.5))
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        connections_table.put_connection(TABLE, a_record())
    elapsed = time.monotonic() - started
    assert caught.value.transient
    assert len(fake_dynamodb.seen("POST", "/")) == 3
    assert 3.0 <= elapsed < 4.5  # 3 attempts x 1 s read timeout
