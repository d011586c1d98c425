"""The DynamoDB registry of open connections (docs/design.md, "Connection record").

One item per connection, hash key ``connectionId``; ``sessionId-index`` and ``userId-index``
find a session's or a user's connections; ``expiresAt`` (epoch SECONDS) is the TTL
attribute, so records whose ``$disconnect`` never arrived still go away.

Every function takes the table name and, optionally, a DynamoDB client (default: the one
client of this container, which makes one attempt per call) and a ``deadline``
(``time.monotonic()``). Transient failures are retried here, a bounded number of times and
never past the deadline (:func:`_call`; the policy and its worst case are in ``ws_bridge.aws``).
Failures raise :class:`RegistryError`.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ws_bridge import aws
from ws_bridge.settings import MAX_CONNECTION_SECONDS

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
# The transient codes that mean "too many requests": a longer backoff before the next attempt.
_THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)

# What is retried when transient: the service's answers, and botocore's network errors
# (refused, reset, timed out). Other botocore errors (no credentials, invalid parameters)
# would fail again at once.
_RETRIED = (ClientError, BotoConnectionError, HTTPClientError)

# The retry loop's clock, sleep and jitter (tests replace them).
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep
_jitter: Callable[[], float] = random.random


class RegistryError(Exception):
    """A DynamoDB call failed after the retries of :func:`_call`.

    ``transient`` is true for throttling, service-side and network errors and for a deadline
    too close for another attempt (code ``DeadlineExceeded`` when no attempt was made): worth
    a retry by the client later. False for errors such as a missing table or a denied
    permission.
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
    ttl_seconds: int = MAX_CONNECTION_SECONDS,
    connected_at_ms: int | None = None,
    now: float | None = None,
) -> Connection:
    """A record that expires ``ttl_seconds`` (default: the 2 hours API Gateway lets a
    connection live) from ``now`` (epoch seconds, as TTL requires)."""
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


def _call[T](operation: str, attempt: Callable[[], T], deadline: float | None) -> T:
    """``attempt()``, retried on transient failures: at most ``aws.REGISTRY_ATTEMPTS`` in
    all, a full-jitter sleep before each retry, and no attempt that could not end (sleep and
    socket timeouts included) before ``deadline`` (``time.monotonic()``, None: no deadline).

    Our own loop, because botocore's standard-mode backoff differs between the versions this
    package meets (the Lambda runtime's 1.34.x sleeps up to 1 s + 2 s; see ``ws_bridge.aws``)
    and knows no deadline: the client makes one attempt per call (``aws.DYNAMODB_CONFIG``).
    """
    last: ClientError | BotoCoreError | None = None
    pause = 0.0
    for number in range(1, aws.REGISTRY_ATTEMPTS + 1):
        if deadline is not None and _clock() + pause + aws.REGISTRY_ATTEMPT_SECONDS > deadline:
            break
        if pause > 0:
            _sleep(pause)
        try:
            return attempt()
        except (ClientError, BotoCoreError) as exc:
            failure = _failure(operation, exc)
            retried = failure.transient and isinstance(exc, _RETRIED)
            if not retried or number == aws.REGISTRY_ATTEMPTS:
                raise failure from exc
            last = exc
            scale = (
                aws.REGISTRY_THROTTLED_BACKOFF_SECONDS
                if failure.code in _THROTTLING_CODES
                else aws.REGISTRY_BACKOFF_SECONDS
            )
            pause = _jitter() * scale[number - 1]
    if last is None:
        raise RegistryError(operation, "DeadlineExceeded", True)
    raise _failure(operation, last) from last


def put_connection(
    table_name: str,
    connection: Connection,
    *,
    dynamodb: DynamoDBClient | None = None,
    deadline: float | None = None,
) -> None:
    """Store (or overwrite) one connection record."""
    if not (connection.connection_id and connection.session_id and connection.user_id):
        # Index keys cannot be empty strings; a record without them could never be found.
        raise ValueError("connectionId, sessionId and userId must not be empty")
    client = _client(dynamodb)
    item: dict[str, Any] = {
        "connectionId": {"S": connection.connection_id},
        "sessionId": {"S": connection.session_id},
        "userId": {"S": connection.user_id},
        "connectedAt": {"N": str(connection.connected_at)},
        "expiresAt": {"N": str(connection.expires_at)},
    }
    _call("PutItem", lambda: client.put_item(TableName=table_name, Item=item), deadline)


def delete_connection(
    table_name: str,
    connection_id: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    connected_before_ms: int | None = None,
    deadline: float | None = None,
) -> bool:
    """Delete one record; deleting a record that is already gone succeeds. With
    ``connected_before_ms`` only a record whose ``connectedAt`` is older is deleted (a
    conditional delete); False when a younger record was kept."""
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"connectionId": {"S": connection_id}},
    }
    if connected_before_ms is not None:
        arguments["ConditionExpression"] = "attribute_not_exists(connectedAt) OR connectedAt < :t"
        arguments["ExpressionAttributeValues"] = {":t": {"N": str(connected_before_ms)}}
    client = _client(dynamodb)

    def delete() -> bool:
        try:
            client.delete_item(**arguments)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # an answer, not a failure: never retried
            raise
        return True

    return _call("DeleteItem", delete, deadline)


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
    deadline: float | None,
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
        page = _call("Query", functools.partial(dynamodb.query, **arguments), deadline)
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
    deadline: float | None = None,
) -> list[Connection]:
    """The unexpired connections of one session (``sessionId-index``, all pages)."""
    return _query(
        _client(dynamodb), table_name, SESSION_INDEX, "sessionId", session_id, now, deadline
    )


def connections_for_user(
    table_name: str,
    user_id: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    now: float | None = None,
    deadline: float | None = None,
) -> list[Connection]:
    """The unexpired connections of one user (``userId-index``, all pages)."""
    return _query(_client(dynamodb), table_name, USER_INDEX, "userId", user_id, now, deadline)
