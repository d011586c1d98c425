"""Topics: which connections subscribed to what, in the subscriptions table (``aws`` extra).

    topics = Topics(SUBSCRIPTIONS_TABLE, connections_table=CONNECTIONS_TABLE)
    topics.subscribe(connection_id, "prices/eu")
    for ids in topics.pages("prices/eu", shard): ...

The table (docs/fanout.md, "Subscriptions") is built for a topic of a million subscribers:

- partition key ``topicShard`` = ``<topic>#<shard>``, sort key ``connectionId``: a topic is
  spread over ``shards`` partitions (``shard_of``: SHA-256 of the connection id modulo
  ``shards``), so neither its writes (1,000 WCU a partition) nor the reads of a broadcast
  (3,000 RCU a partition) meet one partition's limits, and a broadcast reads the shards in
  parallel, one queue message each;
- the keys-only index ``connectionId-index`` (partition key ``connectionId``, sort key
  ``topicShard``) lists a connection's subscriptions, which ``$disconnect`` and a 410
  delete (:func:`forget_connection`);
- ``expiresAt`` (epoch seconds), the TTL attribute: the connection record's own expiry, so
  the subscriptions of a connection whose ``$disconnect`` never arrived go with it.

``shards`` must be the same for every writer and every broadcast of a deployment: a
subscription is found only in the shard it was written to. The module-level functions take a
DynamoDB client (the connection handler and the fan-out worker call them with their own);
:class:`Topics` wraps them for a backend.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_backend import contract

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "CONNECTION_INDEX",
    "DEFAULT_SHARDS",
    "PAGE_SIZE",
    "TopicError",
    "Topics",
    "check_shards",
    "check_topic",
    "forget_connection",
    "partition_key",
    "query_page",
    "shard_of",
    "topic_request",
]

DEFAULT_SHARDS = contract.FANOUT_TOPIC_SHARDS
MAX_SHARDS = contract.FANOUT_MAX_TOPIC_SHARDS
PAGE_SIZE = contract.FANOUT_MAX_IDS_PER_MESSAGE
CONNECTION_INDEX = contract.SUBSCRIPTIONS_CONNECTION_INDEX
_PK = contract.SUBSCRIPTIONS_PARTITION_KEY
_SK = contract.SUBSCRIPTIONS_SORT_KEY
_TTL = contract.SUBSCRIPTIONS_TTL_ATTRIBUTE
_TOPIC = contract.SUBSCRIPTIONS_TOPIC_ATTRIBUTE
_SEPARATOR = contract.SUBSCRIPTIONS_SHARD_SEPARATOR
_TOPIC_PATTERN = re.compile(contract.FANOUT_TOPIC_PATTERN)
# BatchWriteItem takes at most 25 requests.
_BATCH_WRITE = 25

DYNAMODB_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=1,
    read_timeout=2,
    max_pool_connections=32,
)


class TopicError(Exception):
    """A DynamoDB call failed (after botocore's retries), or a topic name is invalid."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code


def _error(operation: str, exc: ClientError | BotoCoreError) -> TopicError:
    if isinstance(exc, ClientError):
        return TopicError(operation, str(exc.response.get("Error", {}).get("Code", "Unknown")))
    return TopicError(operation, type(exc).__name__)


def check_topic(topic: str) -> str:
    """``topic`` itself; ``ValueError`` unless it matches the contract's topic pattern."""
    if not isinstance(topic, str) or not _TOPIC_PATTERN.fullmatch(topic):
        raise ValueError(f"a topic matches {contract.FANOUT_TOPIC_PATTERN}, got {topic!r}")
    return topic


def check_shards(shards: int) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}")
    return shards


def shard_of(connection_id: str, shards: int = DEFAULT_SHARDS) -> int:
    """The shard of a connection's subscriptions (the contract's ``shard_hash``)."""
    digest = hashlib.sha256(connection_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def partition_key(topic: str, shard: int) -> str:
    return f"{topic}{_SEPARATOR}{shard}"


def query_page(
    dynamodb: DynamoDBClient,
    table_name: str,
    topic: str,
    shard: int,
    start_key: Mapping[str, Any] | None = None,
    *,
    limit: int = PAGE_SIZE,
    now: float | None = None,
) -> tuple[list[str], dict[str, Any] | None]:
    """One page of a topic shard: at most ``limit`` unexpired subscribers' connection ids
    and the key to start the next page at (None after the last page). An expired item (its
    TTL passed, not yet deleted) is a closed connection and is left out."""
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": _PK, "#sk": _SK, "#ttl": _TTL},
        "ExpressionAttributeValues": {":pk": {"S": partition_key(topic, shard)}},
        "ProjectionExpression": "#sk, #ttl",
        "Limit": limit,
    }
    if start_key:
        arguments["ExclusiveStartKey"] = dict(start_key)
    try:
        page = dynamodb.query(**arguments)
    except (ClientError, BotoCoreError) as exc:
        raise _error("Query", exc) from exc
    cutoff = time.time() if now is None else now
    ids = [
        str(item[_SK]["S"])
        for item in page.get("Items", [])
        if _SK in item and (_TTL not in item or int(item[_TTL]["N"]) > cutoff)
    ]
    last = page.get("LastEvaluatedKey")
    return ids, (dict(last) if last else None)


def forget_connection(dynamodb: DynamoDBClient, table_name: str, connection_id: str) -> int:
    """Delete every subscription of a connection (``$disconnect``, a 410); how many went.
    Unprocessed deletes are tried again (up to 3 rounds); what is left the TTL removes."""
    keys: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "IndexName": CONNECTION_INDEX,
        "KeyConditionExpression": "#sk = :id",
        "ExpressionAttributeNames": {"#sk": _SK},
        "ExpressionAttributeValues": {":id": {"S": connection_id}},
    }
    try:
        while True:
            page = dynamodb.query(**arguments)
            keys += [{_PK: item[_PK], _SK: item[_SK]} for item in page.get("Items", [])]
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            arguments["ExclusiveStartKey"] = dict(last)
    except (ClientError, BotoCoreError) as exc:
        raise _error("Query", exc) from exc
    for start in range(0, len(keys), _BATCH_WRITE):
        requests: list[Any] = [
            {"DeleteRequest": {"Key": key}} for key in keys[start : start + _BATCH_WRITE]
        ]
        for _round in range(3):
            try:
                answer = dynamodb.batch_write_item(RequestItems={table_name: requests})
            except (ClientError, BotoCoreError) as exc:
                raise _error("BatchWriteItem", exc) from exc
            requests = list(answer.get("UnprocessedItems", {}).get(table_name, []))
            if not requests:
                break
    return len(keys)


def topic_request(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """``("subscribe" | "unsubscribe", topic)`` for a client's ``{"type": "subscribe",
    "topic": ...}`` (or ``unsubscribe``) message the handler forwarded; None for any other."""
    kind = message.get("type")
    topic = message.get("topic")
    if kind not in ("subscribe", "unsubscribe") or not isinstance(topic, str):
        return None
    if not _TOPIC_PATTERN.fullmatch(topic):
        return None
    return str(kind), topic


class Topics:
    """The subscriptions table ``table_name``, spread over ``shards`` shards per topic.

    ``connections_table``: when given, :meth:`subscribe` copies the connection record's
    ``expiresAt`` (and refuses a connection without a live record); otherwise a
    subscription expires ``contract.MAX_CONNECTION_SECONDS`` from now, never before its
    connection does."""

    def __init__(
        self,
        table_name: str,
        *,
        connections_table: str | None = None,
        shards: int = DEFAULT_SHARDS,
        dynamodb: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.connections_table = connections_table
        self.shards = check_shards(shards)
        self.dynamodb: DynamoDBClient = (
            dynamodb if dynamodb is not None else boto3.client("dynamodb", config=DYNAMODB_CONFIG)
        )
        self._clock = clock

    def _expiry(self, connection_id: str) -> int | None:
        now = self._clock()
        if self.connections_table is None:
            return int(now) + contract.MAX_CONNECTION_SECONDS
        try:
            item = self.dynamodb.get_item(
                TableName=self.connections_table,
                Key={"connectionId": {"S": connection_id}},
                ProjectionExpression="expiresAt",
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise _error("GetItem", exc) from exc
        if not item or "expiresAt" not in item:
            return None
        expires_at = int(item["expiresAt"]["N"])
        return expires_at if expires_at > now else None

    def subscribe(self, connection_id: str, topic: str) -> bool:
        """Subscribe a connection to ``topic``; False (nothing written) when the connections
        table is known and holds no live record of it. Subscribing twice is harmless."""
        check_topic(topic)
        expires_at = self._expiry(connection_id)
        if expires_at is None:
            return False
        item: dict[str, Any] = {
            _PK: {"S": partition_key(topic, shard_of(connection_id, self.shards))},
            _SK: {"S": connection_id},
            _TOPIC: {"S": topic},
            _TTL: {"N": str(expires_at)},
        }
        try:
            self.dynamodb.put_item(TableName=self.table_name, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise _error("PutItem", exc) from exc
        return True

    def unsubscribe(self, connection_id: str, topic: str) -> None:
        """Remove one subscription; removing one that is not there succeeds."""
        check_topic(topic)
        key = {
            _PK: {"S": partition_key(topic, shard_of(connection_id, self.shards))},
            _SK: {"S": connection_id},
        }
        try:
            self.dynamodb.delete_item(TableName=self.table_name, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _error("DeleteItem", exc) from exc

    def forget(self, connection_id: str) -> int:
        """Delete every subscription of a connection; how many there were."""
        return forget_connection(self.dynamodb, self.table_name, connection_id)

    def pages(self, topic: str, shard: int, *, limit: int = PAGE_SIZE) -> Iterator[list[str]]:
        """The connection ids of one shard of ``topic``, a page at a time."""
        check_topic(topic)
        start: dict[str, Any] | None = None
        while True:
            ids, start = query_page(
                self.dynamodb, self.table_name, topic, shard, start, limit=limit, now=self._clock()
            )
            if ids:
                yield ids
            if start is None:
                return

    def subscribers(self, topic: str) -> Iterator[str]:
        """Every unexpired subscriber of ``topic``, shard after shard."""
        for shard in range(self.shards):
            for ids in self.pages(topic, shard):
                yield from ids

    def handle(
        self,
        message: Mapping[str, Any],
        allowed: Callable[[Mapping[str, Any], str], bool],
    ) -> dict[str, Any] | None:
        """Answer a client's subscribe/unsubscribe message (as the handler forwarded it,
        with ``connectionId``, ``sessionId`` and ``userId``), or None for another message.

        ``allowed(message, topic)`` is the backend's decision for a subscribe; an
        unsubscribe is always allowed. The reply (``{"type": "subscribed" | "unsubscribed" |
        "error", "topic", "id"?}``) goes back to the client as the message's answer."""
        request = topic_request(message)
        if request is None:
            return None
        kind, topic = request
        connection_id = str(message.get("connectionId", ""))
        reply: dict[str, Any] = {"topic": topic}
        if isinstance(message.get("id"), str):
            reply["id"] = message["id"]
        if not connection_id:
            return {"type": "error", "error": "not_subscribed", **reply}
        if kind == "unsubscribe":
            self.unsubscribe(connection_id, topic)
            return {"type": "unsubscribed", **reply}
        if not allowed(message, topic) or not self.subscribe(connection_id, topic):
            return {"type": "error", "error": "not_subscribed", **reply}
        return {"type": "subscribed", **reply}
