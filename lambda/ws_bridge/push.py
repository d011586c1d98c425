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
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws, logs
from ws_bridge.backend_client import encode_json
from ws_bridge.connections_table import (
    Connection,
    RegistryError,
    connections_for_session,
    connections_for_user,
    delete_connection,
)
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

log = logs.get_logger("push")


class PostOutcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 410: the connection no longer exists; its record was deleted
    FAILED = "failed"  # any other error; the record is kept


@dataclass(frozen=True, slots=True)
class PushResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0

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
        # The narrow case first: GoneException is a ClientError too.
        try:
            delete_connection(table_name, connection_id, dynamodb=dynamodb)
        except RegistryError as exc:
            log.warning(
                "stale record not deleted",
                extra={"target": connection_id, "code": exc.code},
            )
        log.info("connection gone, record deleted", extra={"target": connection_id})
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
) -> PushResult:
    """Send one message to each connection; returns how many were sent, gone, failed."""
    return _post_each(
        connections,
        encode_message(message),
        management=management,
        table_name=table_name,
        dynamodb=dynamodb,
    )


def _post_each(
    connections: Iterable[Connection],
    data: bytes,
    *,
    management: ApiGatewayManagementApiClient,
    table_name: str,
    dynamodb: DynamoDBClient | None,
) -> PushResult:
    counts = dict.fromkeys(PostOutcome, 0)
    for connection in connections:
        outcome = post_to_connection(
            management, connection.connection_id, data, table_name=table_name, dynamodb=dynamodb
        )
        counts[outcome] += 1
    return PushResult(
        sent=counts[PostOutcome.SENT],
        gone=counts[PostOutcome.GONE],
        failed=counts[PostOutcome.FAILED],
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
) -> PushResult:
    """Send ``message`` to every open connection of a session (``sessionId-index``)."""
    data = encode_message(message)  # once, and before any call: a bad message costs nothing
    client = _management(management, endpoint_url)
    connections = connections_for_session(table_name, session_id, dynamodb=dynamodb)
    return _post_each(
        connections, data, management=client, table_name=table_name, dynamodb=dynamodb
    )


def push_to_user(
    table_name: str,
    user_id: str,
    message: Message,
    *,
    endpoint_url: str | None = None,
    management: ApiGatewayManagementApiClient | None = None,
    dynamodb: DynamoDBClient | None = None,
) -> PushResult:
    """Send ``message`` to every open connection of a user (``userId-index``)."""
    data = encode_message(message)
    client = _management(management, endpoint_url)
    connections = connections_for_user(table_name, user_id, dynamodb=dynamodb)
    return _post_each(
        connections, data, management=client, table_name=table_name, dynamodb=dynamodb
    )
