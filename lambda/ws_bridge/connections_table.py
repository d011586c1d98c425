"""The DynamoDB registry of open connections (docs/design.md, "Connection record"): what the
connection handler writes. Backends read it with ``ws_bridge_backend.registry``.

One item per connection, hash key ``connectionId``; ``sessionId-index`` and ``userId-index``
find a session's or a user's connections; ``expiresAt`` (epoch SECONDS) is the TTL
attribute, so records whose ``$disconnect`` never arrived still go away; ``tokenExpiresAt``
(epoch seconds, when the token has an ``exp``) lets a push skip and close a connection whose
token has expired.

Every function takes the table name and, optionally, a DynamoDB client (default: the one
client of this container, which makes one attempt per call) and a ``deadline``
(``time.monotonic()``). Transient failures are retried here, a bounded number of times and
never past the deadline (:func:`_call`; the policy and its worst case are in ``ws_bridge.aws``).
Failures raise :class:`RegistryError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ws_bridge import aws, logs
from ws_bridge.settings import MAX_CONNECTION_SECONDS

_log = logs.get_logger("connections_table")

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "Connection",
    "RegistryError",
    "delete_connection",
    "new_connection",
    "put_connection",
]

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
    token_expires_at: int | None = None  # epoch seconds: the token's exp


def new_connection(
    connection_id: str,
    session_id: str,
    user_id: str,
    *,
    ttl_seconds: int = MAX_CONNECTION_SECONDS,
    connected_at_ms: int | None = None,
    token_expires_at: int | None = None,
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
        token_expires_at=token_expires_at,
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
    if connection.token_expires_at is not None:
        item["tokenExpiresAt"] = {"N": str(connection.token_expires_at)}
    _call("PutItem", lambda: client.put_item(TableName=table_name, Item=item), deadline)


def delete_connection(
    table_name: str,
    connection_id: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    deadline: float | None = None,
) -> None:
    """Delete one record; deleting a record that is already gone succeeds."""
    client = _client(dynamodb)
    key: dict[str, Any] = {"connectionId": {"S": connection_id}}
    _call("DeleteItem", lambda: client.delete_item(TableName=table_name, Key=key), deadline)


def forget_subscriptions(table_name: str, connection_id: str) -> None:
    """Delete a closed connection's topic subscriptions (fanout.enabled); best effort: what
    is left expires with the connection's record (their TTL)."""
    # Imported here: only a deployment with topics needs it, and cold starts stay as short.
    from ws_bridge_backend import topics

    try:
        count = topics.forget_connection(aws.dynamodb_retrying(), table_name, connection_id)
    except topics.TopicError as exc:
        _log.warning("subscriptions not deleted", extra={"code": exc.code})
        return
    if count:
        _log.info("subscriptions deleted", extra={"count": count})
