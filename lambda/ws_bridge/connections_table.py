"""The DynamoDB registry of open connections (docs/design.md, "Connection record").

One item per connection, hash key ``connectionId``; ``sessionId-index`` and ``userId-index``
find a session's or a user's connections; ``expiresAt`` (epoch SECONDS) is the TTL
attribute, so records whose ``$disconnect`` never arrived still go away.

Every function takes the table name and, optionally, a DynamoDB client (default: the one
client of this container, with bounded retries). Failures raise :class:`RegistryError`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "SESSION_INDEX",
    "USER_INDEX",
    "Connection",
    "RegistryError",
    "connections_for_session",
    "connections_for_user",
    "delete_connection",
    "new_connection",
    "put_connection",
]

SESSION_INDEX = "sessionId-index"
USER_INDEX = "userId-index"

# Error codes that mean "try again later" rather than "this will never work".
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


class RegistryError(Exception):
    """A DynamoDB call failed after botocore's retries.

    ``transient`` is true for throttling, service-side and network errors (worth a retry by
    the client later), false for errors such as a missing table or a denied permission.
    """

    def __init__(self, operation: str, code: str, transient: bool) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    session_id: str
    user_id: str
    connected_at: int  # epoch milliseconds
    expires_at: int  # epoch seconds (the TTL attribute)


def new_connection(
    connection_id: str,
    session_id: str,
    user_id: str,
    *,
    ttl_seconds: int,
    connected_at_ms: int | None = None,
    now: float | None = None,
) -> Connection:
    """A record that expires ``ttl_seconds`` from ``now`` (epoch seconds, as TTL requires)."""
    now = time.time() if now is None else now
    return Connection(
        connection_id=connection_id,
        session_id=session_id,
        user_id=user_id,
        connected_at=int(now * 1000) if connected_at_ms is None else connected_at_ms,
        expires_at=int(now) + ttl_seconds,
    )


def _client(dynamodb: DynamoDBClient | None) -> DynamoDBClient:
    return aws.dynamodb() if dynamodb is None else dynamodb


def _failure(operation: str, exc: ClientError | BotoCoreError) -> RegistryError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        return RegistryError(operation, code, code in _TRANSIENT_CODES)
    return RegistryError(operation, type(exc).__name__, True)


def put_connection(
    table_name: str, connection: Connection, *, dynamodb: DynamoDBClient | None = None
) -> None:
    """Store (or overwrite) one connection record."""
    if not (connection.connection_id and connection.session_id and connection.user_id):
        # Index keys cannot be empty strings; a record without them could never be found.
        raise ValueError("connectionId, sessionId and userId must not be empty")
    try:
        _client(dynamodb).put_item(
            TableName=table_name,
            Item={
                "connectionId": {"S": connection.connection_id},
                "sessionId": {"S": connection.session_id},
                "userId": {"S": connection.user_id},
                "connectedAt": {"N": str(connection.connected_at)},
                "expiresAt": {"N": str(connection.expires_at)},
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise _failure("PutItem", exc) from exc


def delete_connection(
    table_name: str, connection_id: str, *, dynamodb: DynamoDBClient | None = None
) -> None:
    """Delete one record; deleting a record that is already gone succeeds."""
    try:
        _client(dynamodb).delete_item(
            TableName=table_name, Key={"connectionId": {"S": connection_id}}
        )
    except (ClientError, BotoCoreError) as exc:
        raise _failure("DeleteItem", exc) from exc


def _parse(item: Mapping[str, Any]) -> Connection | None:
    try:
        return Connection(
            connection_id=str(item["connectionId"]["S"]),
            session_id=str(item["sessionId"]["S"]),
            user_id=str(item["userId"]["S"]),
            connected_at=int(item["connectedAt"]["N"]),
            expires_at=int(item["expiresAt"]["N"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _query(
    dynamodb: DynamoDBClient,
    table_name: str,
    index: str,
    attribute: str,
    value: str,
    now: float | None,
) -> list[Connection]:
    cutoff = time.time() if now is None else now
    found: list[Connection] = []
    start: dict[str, Any] | None = None
    while True:
        arguments: dict[str, Any] = {
            "TableName": table_name,
            "IndexName": index,
            "KeyConditionExpression": "#key = :value",
            "ExpressionAttributeNames": {"#key": attribute},
            "ExpressionAttributeValues": {":value": {"S": value}},
        }
        if start is not None:
            arguments["ExclusiveStartKey"] = start
        try:
            page = dynamodb.query(**arguments)
        except (ClientError, BotoCoreError) as exc:
            raise _failure("Query", exc) from exc
        for item in page.get("Items", []):
            connection = _parse(item)
            # TTL deletion lags by up to days: an expired record is a closed connection.
            if connection is not None and connection.expires_at > cutoff:
                found.append(connection)
        last = page.get("LastEvaluatedKey")
        if not last:
            return found
        start = dict(last)


def connections_for_session(
    table_name: str,
    session_id: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    now: float | None = None,
) -> list[Connection]:
    """The unexpired connections of one session (``sessionId-index``, all pages)."""
    return _query(_client(dynamodb), table_name, SESSION_INDEX, "sessionId", session_id, now)


def connections_for_user(
    table_name: str,
    user_id: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    now: float | None = None,
) -> list[Connection]:
    """The unexpired connections of one user (``userId-index``, all pages)."""
    return _query(_client(dynamodb), table_name, USER_INDEX, "userId", user_id, now)
