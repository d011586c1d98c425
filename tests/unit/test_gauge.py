"""The open-connections gauge (``ws_bridge.gauge``) against moto's DynamoDB: it counts the
records whose ``expiresAt`` is ahead, so a connection whose ``$disconnect`` never came stops
counting when its record expires, before DynamoDB's TTL deletes it."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from bridge_fakes import REGION, metric_lines

from ws_bridge import connections_table, gauge


def add(table: str, connection_id: str, age: float) -> None:
    """A record of a connection that opened ``age`` seconds ago and lives 600 s."""
    record = connections_table.new_connection(
        connection_id, "s1", "u1", ttl_seconds=600, now=time.time() - age
    )
    connections_table.put_connection(table, record)


def test_only_unexpired_records_count(table: str) -> None:
    for n in range(5):
        add(table, f"open{n}=", age=10)
    for n in range(3):
        add(table, f"lost{n}=", age=3600)  # no $disconnect; expired, not yet deleted
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    assert gauge.count_open(dynamodb, table) == 5
    assert gauge.count_open(dynamodb, table, now=lambda: time.time() + 601) == 0


def test_every_page_of_the_scan_is_counted(table: str) -> None:
    for n in range(7):
        add(table, f"c{n}=", age=10)
    real = boto3.client("dynamodb", region_name=REGION)
    calls: list[dict[str, Any]] = []

    class TwoAtATime:
        def scan(self, **arguments: Any) -> Any:
            calls.append(arguments)
            return real.scan(**arguments, Limit=2)

    assert gauge.count_open(TwoAtATime(), table) == 7  # type: ignore[arg-type]
    assert len(calls) >= 4
    assert all(call["Select"] == "COUNT" for call in calls)


def test_the_entry_point_writes_the_open_connections_metric(
    table: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add(table, "a=", age=10)
    add(table, "b=", age=10)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    monkeypatch.setenv("METRICS_SERVICE", "labs")
    monkeypatch.setenv("METRICS_NAMESPACE", "NS")
    gauge._settings.cache_clear()
    try:
        assert gauge.handler({}, None) == {"openConnections": 2}
    finally:
        gauge._settings.cache_clear()
    (line,) = metric_lines(capsys.readouterr().out)
    assert line["OpenConnections"] == 2
    assert line["Service"] == "labs"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "NS"
