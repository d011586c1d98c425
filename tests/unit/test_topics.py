"""Topic subscriptions (``ws_bridge_backend.topics``) against moto's DynamoDB: the keys a
topic of a million subscribers needs, the expiry copied from the connection record, client
subscribe messages, and the connection handler's ``$disconnect`` deleting a connection's
subscriptions."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from bridge_fakes import REGION, SUBSCRIPTIONS, FakeServer, create_subscriptions_table, load_event

from ws_bridge import connections_table
from ws_bridge_backend import contract
from ws_bridge_backend.topics import (
    Topics,
    forget_connection,
    partition_key,
    shard_of,
    topic_request,
)

NOW = 1_800_000_000.0


@pytest.fixture
def dynamodb(table: str) -> Any:
    create_subscriptions_table()
    return boto3.client("dynamodb", region_name=REGION)


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=SUBSCRIPTIONS)["Items"])


def connect(table: str, connection_id: str, now: float = NOW) -> int:
    record = connections_table.new_connection(connection_id, "s1", "u1", ttl_seconds=600, now=now)
    connections_table.put_connection(table, record)
    return record.expires_at


def test_a_subscription_is_keyed_by_topic_shard_and_connection_and_expires_with_its_record(
    dynamodb: Any, table: str
) -> None:
    expires_at = connect(table, "abc=")
    topics = Topics(SUBSCRIPTIONS, connections_table=table, dynamodb=dynamodb, clock=lambda: NOW)
    assert topics.subscribe("abc=", "prices/eu")
    (item,) = items(dynamodb)
    shard = shard_of("abc=")
    assert item == {
        "topicShard": {"S": f"prices/eu#{shard}"},
        "connectionId": {"S": "abc="},
        "topic": {"S": "prices/eu"},
        "expiresAt": {"N": str(expires_at)},
    }


def test_a_connection_without_a_live_record_is_not_subscribed(dynamodb: Any, table: str) -> None:
    connect(table, "old=", now=NOW - 3600)  # its record expired 50 minutes ago
    topics = Topics(SUBSCRIPTIONS, connections_table=table, dynamodb=dynamodb, clock=lambda: NOW)
    assert not topics.subscribe("old=", "news")
    assert not topics.subscribe("never=", "news")
    assert items(dynamodb) == []


def test_the_shard_is_the_contracts_hash_and_spreads_a_topic_evenly() -> None:
    # The contract's rule, written out: SHA-256, first 8 bytes, big-endian, modulo.
    for connection_id in ("abc=", "R0oXAdfD0kwCH6w=", "é"):
        digest = hashlib.sha256(connection_id.encode("utf-8")).digest()
        for shards in (1, 16, 1000):
            expected = int.from_bytes(digest[:8], "big") % shards
            assert shard_of(connection_id, shards) == expected
    counts = Counter(shard_of(f"conn{n}=", 16) for n in range(16_000))
    assert set(counts) == set(range(16))
    assert max(counts.values()) < 1.15 * 1000  # no hot shard
    assert partition_key("news", 3) == "news#3"


def test_subscribers_are_read_from_every_shard_and_unsubscribe_removes_one(dynamodb: Any) -> None:
    topics = Topics(SUBSCRIPTIONS, shards=4, dynamodb=dynamodb)
    ids = [f"c{n}=" for n in range(30)]
    for connection_id in ids:
        topics.subscribe(connection_id, "news")
    topics.subscribe("c0=", "news")  # twice: still one subscription
    topics.subscribe("x=", "other")
    assert sorted(topics.subscribers("news")) == sorted(ids)
    assert {len(page) for page in topics.pages("news", shard_of("c1=", 4), limit=2)} <= {1, 2}
    topics.unsubscribe("c1=", "news")
    topics.unsubscribe("c1=", "news")  # again: nothing to remove, no error
    assert sorted(topics.subscribers("news")) == sorted(set(ids) - {"c1="})


def test_forgetting_a_connection_deletes_all_its_subscriptions_only(dynamodb: Any) -> None:
    topics = Topics(SUBSCRIPTIONS, dynamodb=dynamodb)
    names = [f"t{n}" for n in range(30)]  # more than one BatchWriteItem (25)
    for name in names:
        topics.subscribe("gone=", name)
    topics.subscribe("stays=", "t1")
    assert forget_connection(dynamodb, SUBSCRIPTIONS, "gone=") == 30
    assert [item["connectionId"]["S"] for item in items(dynamodb)] == ["stays="]
    assert topics.forget("gone=") == 0


@pytest.mark.parametrize("topic", ["", "a#b", "x" * 129, "white space"])
def test_a_topic_outside_the_contracts_pattern_is_refused(dynamodb: Any, topic: str) -> None:
    topics = Topics(SUBSCRIPTIONS, dynamodb=dynamodb)
    with pytest.raises(ValueError, match="topic"):
        topics.subscribe("abc=", topic)
    assert topic_request({"type": "subscribe", "topic": topic}) is None


def test_shards_are_bounded() -> None:
    for shards in (0, contract.FANOUT_MAX_TOPIC_SHARDS + 1, True):
        with pytest.raises(ValueError, match="shards"):
            Topics(SUBSCRIPTIONS, shards=shards, dynamodb=object())  # type: ignore[arg-type]


def test_a_client_subscribes_only_to_what_the_backend_allows(dynamodb: Any, table: str) -> None:
    connect(table, "abc=", now=time.time())
    topics = Topics(SUBSCRIPTIONS, connections_table=table, dynamodb=dynamodb)

    def allowed(message: Any, topic: str) -> bool:
        return message["userId"] == "u1" and topic.startswith("public/")

    forwarded = {"connectionId": "abc=", "sessionId": "s1", "userId": "u1", "id": "r1"}
    assert topics.handle({**forwarded, "type": "subscribe", "topic": "public/a"}, allowed) == {
        "type": "subscribed",
        "topic": "public/a",
        "id": "r1",
    }
    refused = topics.handle({**forwarded, "type": "subscribe", "topic": "private/b"}, allowed)
    assert refused == {"type": "error", "error": "not_subscribed", "topic": "private/b", "id": "r1"}
    assert list(topics.subscribers("public/a")) == ["abc="]
    assert list(topics.subscribers("private/b")) == []
    answer = topics.handle({**forwarded, "type": "unsubscribe", "topic": "public/a"}, allowed)
    assert answer is not None
    assert answer["type"] == "unsubscribed"
    assert list(topics.subscribers("public/a")) == []
    assert topics.handle({**forwarded, "type": "chat", "text": "hi"}, allowed) is None


def test_disconnect_deletes_the_connections_subscriptions(
    load_handler: Callable[..., ModuleType], server: FakeServer, dynamodb: Any, table: str
) -> None:
    event = load_event("disconnect")
    gone = event["requestContext"]["connectionId"]
    topics = Topics(SUBSCRIPTIONS, dynamodb=dynamodb)
    for connection_id in (gone, "other="):
        connect(table, connection_id, now=time.time())
        topics.subscribe(connection_id, "news")
    module = load_handler(
        CONNECTIONS_TABLE=table,
        SUBSCRIPTIONS_TABLE=SUBSCRIPTIONS,
        BACKEND_URL=server.url,
        DISCONNECT_TIMEOUT_SECONDS="0.3",
    )
    assert module.handler(event, None) == {"statusCode": 200, "body": ""}
    assert list(topics.subscribers("news")) == ["other="]


def test_disconnect_without_a_subscriptions_table_leaves_them_to_their_ttl(
    load_handler: Callable[..., ModuleType], server: FakeServer, dynamodb: Any, table: str
) -> None:
    event = load_event("disconnect")
    gone = event["requestContext"]["connectionId"]
    Topics(SUBSCRIPTIONS, dynamodb=dynamodb).subscribe(gone, "news")
    module = load_handler(CONNECTIONS_TABLE=table, BACKEND_URL=server.url)
    assert module.handler(event, None) == {"statusCode": 200, "body": ""}
    assert len(items(dynamodb)) == 1
