"""The open-connections gauge (handler string ``ws_bridge.gauge.handler``), run every minute
by an EventBridge schedule (modules/fanout): the ``OpenConnections`` metric, the number of
connection records whose ``expiresAt`` is still ahead.

Counting records, not adding up connects and disconnects, keeps it right when a
``$disconnect`` never arrives: such a record stops counting when it expires, although
DynamoDB deletes expired items only lazily (within days), which the filter ``expiresAt >
now`` allows for. A ``Select=COUNT`` scan returns no items, but it READS the whole table:
its cost is in docs/fanout.md ("The open-connections gauge").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ws_bridge import aws, logs, metrics
from ws_bridge.settings import GaugeSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["count_open", "handler"]

log = logs.get_logger("gauge")


def count_open(
    dynamodb: DynamoDBClient, table_name: str, now: Callable[[], float] = time.time
) -> int:
    """The records of ``table_name`` that have not expired (every page of a COUNT scan,
    eventually consistent: half the read units of a consistent one)."""
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "Select": "COUNT",
        "FilterExpression": "#e > :now",
        "ExpressionAttributeNames": {"#e": "expiresAt"},
        "ExpressionAttributeValues": {":now": {"N": str(int(now()))}},
    }
    total = 0
    while True:
        page = dynamodb.scan(**arguments)
        total += int(page.get("Count", 0))
        last = page.get("LastEvaluatedKey")
        if not last:
            return total
        arguments["ExclusiveStartKey"] = dict(last)


@functools.cache
def _settings() -> GaugeSettings:
    settings = GaugeSettings.from_env()
    logs.configure(settings.log_level)
    return settings


def handler(event: Any, context: Any) -> dict[str, int]:
    """Lambda entry point (any event): count, write the metric, return the count."""
    settings = _settings()
    with (
        logs.invocation(context),
        metrics.invocation(settings.metrics_namespace, settings.metrics_service),
    ):
        count = count_open(aws.dynamodb_retrying(), settings.connections_table)
        metrics.add("OpenConnections", count)
        log.info("connections counted", extra={"openConnections": count})
        return {"openConnections": count}
