"""Reading the connection registry, the DynamoDB table the connection handler writes
(docs/design.md, "Connection record"), for backends: find a session's or a user's open
connections, and delete the record of a connection that is gone. boto3 (the ``aws`` extra).

One item per connection, hash key ``connectionId``; ``sessionId-index`` and ``userId-index``
find a session's or a user's connections; ``expiresAt`` (epoch SECONDS) is the TTL attribute
and ``tokenExpiresAt`` (epoch seconds, when the token has an ``exp``) the token's expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DYNAMODB_CONFIG",
    "SESSION_INDEX",
    "USER_INDEX",
    "ConnectionRecord",
    "ConnectionRegistry",
    "RegistryError",
]

SESSION_INDEX = "sessionId-index"
USER_INDEX = "userId-index"

# A push reads and deletes from many threads (ws_bridge_backend.push): as many pooled
# connections as it has threads, short socket timeouts, botocore's bounded retries.
DYNAMODB_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=1,
    read_timeout=2,
    max_pool_connections=32,
)


class RegistryError(Exception):
    """A DynamoDB call failed (after botocore's retries); ``code`` is the AWS error code or
    the botocore exception's name."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    connection_id: str
    session_id: str
    user_id: str
    connected_at: int  # epoch milliseconds
    expires_at: int  # epoch seconds (the TTL attribute)
    token_expires_at: int | None = None  # epoch seconds: the token's exp

    def token_expired(self, now: float) -> bool:
        """Whether the connection's token has expired at ``now`` (epoch seconds)."""
        return self.token_expires_at is not None and now >= self.token_expires_at

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ConnectionRecord | None:
        """The record of a DynamoDB item; None for an item that is not one."""
        try:
            token = item.get("tokenExpiresAt")
            return cls(
                connection_id=str(item["connectionId"]["S"]),
                session_id=str(item["sessionId"]["S"]),
                user_id=str(item["userId"]["S"]),
                connected_at=int(item["connectedAt"]["N"]),
                expires_at=int(item["expiresAt"]["N"]),
                token_expires_at=None if token is None else int(token["N"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _error(operation: str, exc: ClientError | BotoCoreError) -> RegistryError:
    if isinstance(exc, ClientError):
        return RegistryError(operation, str(exc.response.get("Error", {}).get("Code", "Unknown")))
    return RegistryError(operation, type(exc).__name__)


class ConnectionRegistry:
    """The connections table ``table_name``; ``dynamodb``: a client of yours (default: one
    made with :data:`DYNAMODB_CONFIG`, endpoint and credentials from the environment)."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.dynamodb: DynamoDBClient = (
            dynamodb if dynamodb is not None else boto3.client("dynamodb", config=DYNAMODB_CONFIG)
        )
        self._clock = clock

    def for_session(self, session_id: str) -> list[ConnectionRecord]:
        """The unexpired connections of one session (``sessionId-index``, all pages)."""
        return self._query(SESSION_INDEX, "sessionId", session_id)

    def for_user(self, user_id: str) -> list[ConnectionRecord]:
        """The unexpired connections of one user (``userId-index``, all pages)."""
        return self._query(USER_INDEX, "userId", user_id)

    def delete_gone(self, connection_id: str, *, connected_before_ms: int) -> bool:
        """Delete the record of a connection API Gateway says is gone, only if it connected
        before ``connected_before_ms`` (a conditional delete; a record that is already gone
        counts as deleted); False when a younger record was kept."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                ConditionExpression="attribute_not_exists(connectedAt) OR connectedAt < :t",
                ExpressionAttributeValues={":t": {"N": str(connected_before_ms)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _error("DeleteItem", exc) from exc
        except BotoCoreError as exc:
            raise _error("DeleteItem", exc) from exc
        return True

    def _query(self, index: str, attribute: str, value: str) -> list[ConnectionRecord]:
        cutoff = self._clock()
        found: list[ConnectionRecord] = []
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": "#key = :value",
            "ExpressionAttributeNames": {"#key": attribute},
            "ExpressionAttributeValues": {":value": {"S": value}},
        }
        while True:
            try:
                page = self.dynamodb.query(**arguments)
            except (ClientError, BotoCoreError) as exc:
                raise _error("Query", exc) from exc
            for item in page.get("Items", []):
                record = ConnectionRecord.from_item(item)
                # TTL deletion lags by up to days: an expired record is a closed connection.
                if record is not None and record.expires_at > cutoff:
                    found.append(record)
            last = page.get("LastEvaluatedKey")
            if not last:
                return found
            arguments["ExclusiveStartKey"] = dict(last)
