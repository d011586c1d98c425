"""The DynamoDB registry against moto, plus a fake DynamoDB endpoint for throttling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from bridge_fakes import REGION, TABLE, FakeServer, Reply, scan

from ws_bridge import aws, connections_table
from ws_bridge.connections_table import Connection, RegistryError


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
    by_session = connections_table.connections_for_session(table, "s1")
    assert sorted(c.connection_id for c in by_session) == ["a", "b"]
    assert all(isinstance(c, Connection) for c in by_session)
    by_user = connections_table.connections_for_user(table, "u1")
    assert sorted(c.connection_id for c in by_user) == ["a", "c"]
    assert connections_table.connections_for_session(table, "nobody") == []


def test_expired_records_are_not_returned(table: str) -> None:
    now = time.time()
    connections_table.put_connection(
        table, connections_table.new_connection("old", "s", "u", ttl_seconds=60, now=now - 120)
    )
    connections_table.put_connection(
        table, connections_table.new_connection("new", "s", "u", ttl_seconds=60, now=now)
    )
    assert [c.connection_id for c in connections_table.connections_for_session(table, "s")] == [
        "new"
    ]


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
        found = connections_table.connections_for_session(TABLE, "s", dynamodb=client)
        stub.assert_no_pending_responses()
    assert [c.connection_id for c in found] == ["a", "b"]


@pytest.fixture
def fake_dynamodb(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """Point the package's DynamoDB client at a local server; no backoff sleeps."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    aws.reset_clients()
    yield server
    aws.reset_clients()


def dynamodb_error(code: str, status: int = 400) -> Reply:
    return Reply(
        status,
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "fake"},
        headers={"Content-Type": "application/x-amz-json-1.0"},
    )


def test_throttling_is_retried_a_bounded_number_of_times(fake_dynamodb: FakeServer) -> None:
    fake_dynamodb.reply("POST", "/", dynamodb_error("ProvisionedThroughputExceededException"))
    with pytest.raises(RegistryError) as caught:
        connections_table.put_connection(
            TABLE, connections_table.new_connection("c", "s", "u", ttl_seconds=60)
        )
    assert caught.value.transient
    assert caught.value.code == "ProvisionedThroughputExceededException"
    attempts = fake_dynamodb.seen("POST", "/")
    assert len(attempts) == 3  # then give up
    assert [r.headers["amz-sdk-request"].split("; ")[-2:] for r in attempts] == [
        [f"attempt={n}", "max=3"] for n in (1, 2, 3)
    ]


def test_permanent_errors_are_not_retried(fake_dynamodb: FakeServer) -> None:
    fake_dynamodb.reply("POST", "/", dynamodb_error("ResourceNotFoundException"))
    with pytest.raises(RegistryError) as caught:
        connections_table.delete_connection(TABLE, "c")
    assert not caught.value.transient
    assert caught.value.code == "ResourceNotFoundException"
    assert len(fake_dynamodb.seen("POST", "/")) == 1


def test_unreachable_dynamodb_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge_fakes import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    aws.reset_clients()
    with pytest.raises(RegistryError) as caught:
        connections_table.connections_for_user(TABLE, "u")
    assert caught.value.transient


def test_clients_have_bounded_retries_and_short_timeouts(moto: None) -> None:
    config = aws.dynamodb().meta.config
    assert config.retries == {"total_max_attempts": 3, "mode": "standard"}
    assert config.connect_timeout + config.read_timeout <= 3
    assert aws.dynamodb() is aws.dynamodb()


@pytest.mark.parametrize("client", [aws.dynamodb, aws.secretsmanager, aws.ssm])
def test_a_silent_service_costs_at_most_the_registry_budget(
    moto: None, client: Callable[[], Any]
) -> None:
    # Every attempt runs into both socket timeouts, plus the largest non-throttling backoff
    # (DynamoDB's 0.025 s scale; other services use 0.05 s, still far below the slack).
    config = client().meta.config
    attempts = config.retries["total_max_attempts"]
    worst = attempts * (config.connect_timeout + config.read_timeout) + 0.05 + 0.1
    assert worst <= aws.REGISTRY_BUDGET_SECONDS


def test_a_hanging_dynamodb_is_given_up_after_three_short_attempts(
    fake_dynamodb: FakeServer,
) -> None:
    fake_dynamodb.reply("POST", "/", Reply(200, {}, delay=2.5))
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        connections_table.put_connection(
            TABLE, connections_table.new_connection("c", "s", "u", ttl_seconds=60)
        )
    elapsed = time.monotonic() - started
    assert caught.value.transient
    assert len(fake_dynamodb.seen("POST", "/")) == 3
    assert 3.0 <= elapsed < 4.5  # 3 attempts x 1 s read timeout
