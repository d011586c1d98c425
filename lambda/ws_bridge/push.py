"""Pushing messages to connected clients through the ``@connections`` API.

For backends (the reference backend imports it; any Python backend may): find a session's
or a user's connections in the registry, ``PostToConnection`` each, and when API Gateway
answers 410 (``GoneException``, caught before the ``ClientError`` it subclasses) delete
THAT connection's stale record.

``endpoint_url`` is the stage's base URL, ``https://{api-id}.execute-api.{region}.
amazonaws.com/{stage}``: the module's ``callback_url`` output, without ``/@connections``
(boto3 adds ``/@connections/{connectionId}`` to each call; the ``connections_url`` output,
which ends in ``/@connections``, is for raw SigV4 requests only).

One attempt per connection (``aws.MANAGEMENT_API_CONFIG``): a post that failed may still
have been delivered, so it is reported as ``FAILED``, never sent twice.

The posts of one push run in parallel: up to ``aws.PUSH_CONCURRENCY`` threads (the size of
the clients' connection pools) take the connections one at a time, so 1,000 connections
cost about 1,000 / 32 post latencies, and a dead connection holds one thread for at most
its socket timeouts (1 s to connect, 2 s to read). ``deadline_seconds`` bounds the whole
push: connections not yet posted to when it passes are left out and counted as
``skipped`` (never half-sent).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws, logs
from ws_bridge.connections_table import (
    Connection,
    RegistryError,
    connections_for_session,
    connections_for_user,
    delete_connection,
)
from ws_bridge.json_codec import encode_json
from ws_bridge.settings import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "MAX_MESSAGE_BYTES",
    "PostOutcome",
    "PushResult",
    "encode_message",
    "post_to_connection",
    "push_to_connections",
    "push_to_session",
    "push_to_user",
]

type Message = Mapping[str, Any] | str | bytes

# A record younger than this survives a 410: its $connect may not have answered yet (the
# handler's $connect takes at most its Lambda timeout, 29 s behind API Gateway's limit).
GONE_GRACE_SECONDS = 30

log = logs.get_logger("push")


class PostOutcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 410: the connection no longer exists; its record was deleted
    FAILED = "failed"  # any other error; the record is kept
    SKIPPED = "skipped"  # not posted: the push's deadline had passed


@dataclass(frozen=True, slots=True)
class PushResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0
    skipped: int = 0  # not attempted: the push's deadline had passed

    @property
    def attempted(self) -> int:
        return self.sent + self.gone + self.failed


def encode_message(message: Message) -> bytes:
    """A mapping becomes compact strict JSON, a string UTF-8; at most 128 KB (API Gateway's
    limit). ``ValueError`` for a larger message, NaN/Infinity or a lone surrogate."""
    if isinstance(message, bytes):
        data = message
    elif isinstance(message, str):
        data = message.encode("utf-8")
    else:
        data = encode_json(message)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a message is at most {MAX_MESSAGE_BYTES} bytes, got {len(data)}")
    return data


def post_to_connection(
    management: ApiGatewayManagementApiClient,
    connection_id: str,
    data: bytes,
    *,
    table_name: str,
    dynamodb: DynamoDBClient | None = None,
) -> PostOutcome:
    """Send ``data`` to one connection; on 410 delete that connection's record."""
    try:
        management.post_to_connection(ConnectionId=connection_id, Data=data)
    except management.exceptions.GoneException:
        # The narrow case first: GoneException is a ClientError too. API Gateway also answers
        # 410 while $connect is still running (the record is stored just before it answers):
        # only a record older than the grace window is stale.
        cutoff_ms = int(time.time() * 1000) - GONE_GRACE_SECONDS * 1000
        try:
            deleted = delete_connection(
                table_name, connection_id, dynamodb=dynamodb, connected_before_ms=cutoff_ms
            )
        except RegistryError as exc:
            log.warning(
                "stale record not deleted",
                extra={"target": connection_id, "code": exc.code},
            )
        else:
            if deleted:
                log.info("connection gone, record deleted", extra={"target": connection_id})
            else:
                log.info(
                    "connection gone but just connected, record kept",
                    extra={"target": connection_id},
                )
        return PostOutcome.GONE
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        log.warning("post to connection failed", extra={"target": connection_id, "code": code})
        return PostOutcome.FAILED
    except BotoCoreError as exc:
        log.warning(
            "post to connection failed",
            extra={"target": connection_id, "code": type(exc).__name__},
        )
        return PostOutcome.FAILED
    return PostOutcome.SENT


def push_to_connections(
    connections: Iterable[Connection],
    message: Message,
    *,
    management: ApiGatewayManagementApiClient,
    table_name: str,
    dynamodb: DynamoDBClient | None = None,
    concurrency: int = aws.PUSH_CONCURRENCY,
    deadline_seconds: float | None = None,
) -> PushResult:
    """Send one message to each connection, in parallel; returns how many were sent, gone,
    failed (and skipped once ``deadline_seconds`` had passed)."""
    return _post_each(
        connections,
        encode_message(message),
        management=management,
        table_name=table_name,
        dynamodb=dynamodb,
        concurrency=concurrency,
        deadline_seconds=deadline_seconds,
    )


def _post_each(
    connections: Iterable[Connection],
    data: bytes,
    *,
    management: ApiGatewayManagementApiClient,
    table_name: str,
    dynamodb: DynamoDBClient | None,
    concurrency: int = aws.PUSH_CONCURRENCY,
    deadline_seconds: float | None = None,
) -> PushResult:
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds
    pending: Iterator[Connection] = iter(connections)
    lock = threading.Lock()
    counts = dict.fromkeys(PostOutcome, 0)
    errors: list[Exception] = []

    def work() -> None:
        while True:
            with lock:  # one connection at a time: each is posted to exactly once
                if errors:
                    return
                try:
                    connection = next(pending, None)
                except Exception as exc:  # noqa: BLE001 - the caller's iterable failed: re-raised below
                    errors.append(exc)
                    return
            if connection is None:
                return
            if deadline is not None and time.monotonic() >= deadline:
                outcome = PostOutcome.SKIPPED
            else:
                try:
                    outcome = post_to_connection(
                        management,
                        connection.connection_id,
                        data,
                        table_name=table_name,
                        dynamodb=dynamodb,
                    )
                except Exception:  # one connection must not end the push
                    log.exception(
                        "post to connection failed", extra={"target": connection.connection_id}
                    )
                    outcome = PostOutcome.FAILED
            with lock:
                counts[outcome] += 1

    size = len(connections) if isinstance(connections, list | tuple) else concurrency
    workers = min(concurrency, size)
    if workers <= 1:
        work()
    else:
        if dynamodb is None:
            # Made here, before the threads: creating a boto3 client is not thread-safe.
            dynamodb = aws.dynamodb()
        threads = [
            threading.Thread(target=work, name=f"ws-bridge-push-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return PushResult(
        sent=counts[PostOutcome.SENT],
        gone=counts[PostOutcome.GONE],
        failed=counts[PostOutcome.FAILED],
        skipped=counts[PostOutcome.SKIPPED],
    )


def _management(
    management: ApiGatewayManagementApiClient | None, endpoint_url: str | None
) -> ApiGatewayManagementApiClient:
    if management is not None:
        return management
    if not endpoint_url:
        raise ValueError("give either management (a client) or endpoint_url")
    return aws.management_api(endpoint_url)


def push_to_session(
    table_name: str,
    session_id: str,
    message: Message,
    *,
    endpoint_url: str | None = None,
    management: ApiGatewayManagementApiClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    concurrency: int = aws.PUSH_CONCURRENCY,
    deadline_seconds: float | None = None,
) -> PushResult:
    """Send ``message`` to every open connection of a session (``sessionId-index``)."""
    data = encode_message(message)  # once, and before any call: a bad message costs nothing
    client = _management(management, endpoint_url)
    connections = connections_for_session(table_name, session_id, dynamodb=dynamodb)
    return _post_each(
        connections,
        data,
        management=client,
        table_name=table_name,
        dynamodb=dynamodb,
        concurrency=concurrency,
        deadline_seconds=deadline_seconds,
    )


def push_to_user(
    table_name: str,
    user_id: str,
    message: Message,
    *,
    endpoint_url: str | None = None,
    management: ApiGatewayManagementApiClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    concurrency: int = aws.PUSH_CONCURRENCY,
    deadline_seconds: float | None = None,
) -> PushResult:
    """Send ``message`` to every open connection of a user (``userId-index``)."""
    data = encode_message(message)
    client = _management(management, endpoint_url)
    connections = connections_for_user(table_name, user_id, dynamodb=dynamodb)
    return _post_each(
        connections,
        data,
        management=client,
        table_name=table_name,
        dynamodb=dynamodb,
        concurrency=concurrency,
        deadline_seconds=deadline_seconds,
    )
