"""Embedded Metric Format lines: names, units and dimensions as CloudWatch reads them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from bridge_fakes import (
    PATIENT_TIMEOUT,
    FakeServer,
    Reply,
    hs_token,
    load_event,
    metric_lines,
    set_query,
)

VALIDATE = "/api/labs/session/sess-1/validate"


def metrics_of(line: dict[str, Any]) -> dict[tuple[str, ...], set[str]]:
    """{dimension set: metric names} as CloudWatch would extract them from one line."""
    extracted: dict[tuple[str, ...], set[str]] = {}
    for directive in line["_aws"]["CloudWatchMetrics"]:
        assert directive["Namespace"] == "Labs"
        for dimensions in directive["Dimensions"]:
            assert all(name in line for name in dimensions)  # every dimension has a value
            for metric in directive["Metrics"]:
                assert metric["Name"] in line  # and every metric a value
                extracted.setdefault(tuple(dimensions), set()).add(metric["Name"])
    assert isinstance(line["_aws"]["Timestamp"], int)
    assert line["Service"] == "labs-ws"
    return extracted


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType], server: FakeServer, table: str) -> ModuleType:
    return load_handler(
        CONNECTIONS_TABLE=table,
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS=PATIENT_TIMEOUT,
        METRICS_NAMESPACE="Labs",
        METRICS_SERVICE="labs-ws",
    )


def one_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (line,) = metric_lines(capsys.readouterr().out)  # one line per invocation at most
    return line


def test_an_accepted_connection(
    handler: ModuleType, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply("POST", VALIDATE, Reply(200, {}))
    capsys.readouterr()
    handler.handler(set_query(load_event("connect"), token=hs_token()), None)
    line = one_line(capsys)
    assert metrics_of(line) == {("Service",): {"ConnectionsAccepted", "BackendLatency"}}
    assert line["ConnectionsAccepted"] == 1
    assert 0 <= line["BackendLatency"] < 5000  # milliseconds (the unit is checked below)
    units = {m["Name"]: m["Unit"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"ConnectionsAccepted": "Count", "BackendLatency": "Milliseconds"}


def test_a_refused_connection_counts_per_reason_and_the_backend_error_per_code(
    handler: ModuleType, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply("POST", VALIDATE, Reply(403, {}))
    capsys.readouterr()
    handler.handler(set_query(load_event("connect"), token=hs_token()), None)
    line = one_line(capsys)
    assert metrics_of(line) == {
        ("Service",): {"ConnectionsRefused", "BackendErrors", "BackendLatency"},
        ("Service", "Reason"): {"ConnectionsRefused"},
        ("Service", "Code"): {"BackendErrors"},
    }
    assert (line["Reason"], line["Code"]) == ("backend_forbidden", "http_403")


def test_forwarded_messages_and_expired_tokens(
    handler: ModuleType,
    server: FakeServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.reply("POST", "/api/ws/message", Reply(200, {"type": "ok"}))
    event = load_event("message")
    event["body"] = json.dumps({"type": "command"})
    capsys.readouterr()
    handler.handler(event, None)
    line = one_line(capsys)
    assert metrics_of(line) == {("Service",): {"MessagesForwarded", "BackendLatency"}}

    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", server.url)  # @connections
    event["requestContext"]["authorizer"]["exp"] = str(int(time.time()) - 1)
    handler.handler(event, None)
    line = one_line(capsys)
    assert metrics_of(line) == {("Service",): {"TokensExpired"}}


def test_a_ping_writes_no_metric_line(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("message")
    event["body"] = '{"type":"ping"}'
    capsys.readouterr()
    handler.handler(event, None)
    assert metric_lines(capsys.readouterr().out) == []


def test_the_authorizer_counts_its_refusals(
    load_authorizer: Callable[..., ModuleType], secret_arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    authorizer = load_authorizer(
        JWT_SECRET_ARN=secret_arn, METRICS_NAMESPACE="Labs", METRICS_SERVICE="labs-ws"
    )
    capsys.readouterr()
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.handler(load_event("authorizer_request"), None)
    line = one_line(capsys)
    assert metrics_of(line)[("Service", "Reason")] == {"ConnectionsRefused"}
    assert line["Reason"] == "unauthorized"
    authorizer.handler(set_query(load_event("authorizer_request"), token=hs_token()), None)
    assert metric_lines(capsys.readouterr().out) == []  # an Allow is counted at $connect
