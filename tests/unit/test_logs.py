"""Structured logs: one JSON object per line, identifiers bound, and never a token, a secret
or a message body, over a whole session (authorizer, connect, messages, disconnect)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from types import ModuleType

import pytest
from bridge_fakes import SECRET, FakeServer, Reply, hs_token, load_event, log_records, set_query

from ws_bridge import logs


def test_formatter_writes_bound_fields_and_extras_but_no_exception_text() -> None:
    formatter = logs.JsonFormatter()
    logger = logging.getLogger("ws_bridge.test")
    try:
        raise ValueError("secret-value-in-exception")
    except ValueError:
        record = logger.makeRecord(
            "ws_bridge.test",
            logging.ERROR,
            __file__,
            1,
            "failed",
            (),
            sys.exc_info(),
            extra={"code": "X"},
        )
    with logs.bind(connectionId="c=", requestId="r", routeKey="$default", empty=""):
        line = json.loads(formatter.format(record))
    assert line["message"] == "failed"
    assert line["level"] == "ERROR"
    assert (line["connectionId"], line["requestId"], line["routeKey"]) == ("c=", "r", "$default")
    assert "empty" not in line
    assert line["code"] == "X"
    assert line["exception"] == "ValueError"
    assert any("test_logs.py" in frame for frame in line["traceback"])
    assert "secret-value-in-exception" not in json.dumps(line)
    # outside the block the identifiers are gone
    assert "connectionId" not in json.loads(formatter.format(record))


def test_a_whole_session_logs_no_token_secret_or_body(
    load_authorizer: Callable[..., ModuleType],
    load_handler: Callable[..., ModuleType],
    secret_arn: str,
    table: str,
    server: FakeServer,
    captured_logs: Callable[[], str],
) -> None:
    authorizer = load_authorizer(JWT_SECRET_ARN=secret_arn, LOG_LEVEL="DEBUG")
    handler = load_handler(
        CONNECTIONS_TABLE=table,
        BACKEND_URL=server.url,
        # Long enough for every prompt answer on a loaded machine; the slow one is later.
        BACKEND_TIMEOUT_SECONDS="1.5",
        LOG_LEVEL="DEBUG",
    )
    token = hs_token()
    body_marker = "BODY-MARKER-7f3a"
    reply_marker = "REPLY-MARKER-91c2"
    server.reply("POST", "/api/labs/session/sess-1/validate", Reply(200, {"valid": True}))
    server.reply("POST", "/api/ws/message", Reply(200, {"type": "result", "out": reply_marker}))

    answer = authorizer.handler(set_query(load_event("authorizer_request"), token=token), None)
    connect = set_query(load_event("connect"), token=token)
    connect["requestContext"]["authorizer"].update(answer["context"])
    assert handler.handler(connect, None)["statusCode"] == 200

    def send(body: str) -> dict[str, object]:
        event = load_event("message")
        event["body"] = body
        result: dict[str, object] = handler.handler(event, None)
        return result

    assert reply_marker in str(send(json.dumps({"type": "command", "command": body_marker})))
    send(json.dumps({"type": "ping", "note": body_marker}))
    send(f"not json {body_marker}")
    send(json.dumps([body_marker]))
    server.reply("POST", "/api/ws/message", Reply(200, {"x": body_marker}, delay=3))
    send(json.dumps({"type": "command", "command": body_marker}))
    server.reply("POST", "/api/ws/message", Reply(500, f"trace with {body_marker}"))
    send(json.dumps({"type": "command", "command": body_marker}))
    time.sleep(0.05)
    assert handler.handler(load_event("disconnect"), None)["statusCode"] == 200

    text = captured_logs()
    records = log_records(text)
    messages = [record["message"] for record in records]
    assert messages[0] == "connect allowed"
    assert "connected" in messages
    assert "message forwarded" in messages
    assert "message refused" in messages
    assert messages[-1] == "disconnected"
    for record in records:
        assert record["connectionId"] == "R0oXAdfD0kwCH6w="
        assert record["requestId"]
        assert record["routeKey"] in {"$connect", "$default", "$disconnect"}

    assert SECRET not in text
    for part in token.split("."):
        assert part not in text
    assert body_marker not in text
    assert reply_marker not in text


def test_a_line_stays_one_ascii_line_whatever_the_client_sent() -> None:
    formatter = logs.JsonFormatter()
    logger = logging.getLogger("ws_bridge.test")
    record = logger.makeRecord("ws_bridge.test", logging.INFO, __file__, 1, "x", (), None)
    hostile = "lab\u2028\u0085\n\r\x1b[31m-1"
    with logs.bind(sessionId=hostile):
        text = formatter.format(record)
    assert text.isascii()
    assert len(text.splitlines()) == 1
    assert json.loads(text)["sessionId"] == hostile


class Context:
    """The parts of Lambda's context object the functions read."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_lines_carry_the_lambda_request_id_and_cold_start_once_per_container(
    load_handler: Callable[..., ModuleType],
    load_authorizer: Callable[..., ModuleType],
    secret_arn: str,
    server: FakeServer,
    captured_logs: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = load_handler(CONNECTIONS_TABLE="t", BACKEND_URL=server.url)
    monkeypatch.setattr(logs, "_cold_start", True)  # a new container
    captured_logs()
    for request_id in ("req-1", "req-2"):
        handler.handler(message_body("not json"), Context(request_id))
    first, second = (record for record in log_records(captured_logs()))
    assert (first["aws_request_id"], first["cold_start"]) == ("req-1", True)
    assert (second["aws_request_id"], second["cold_start"]) == ("req-2", False)

    authorizer = load_authorizer(JWT_SECRET_ARN=secret_arn)
    monkeypatch.setattr(logs, "_cold_start", True)
    event = set_query(load_event("authorizer_request"), token=hs_token())
    authorizer.handler(event, Context("auth-1"))
    (line,) = log_records(captured_logs())
    assert (line["aws_request_id"], line["cold_start"]) == ("auth-1", True)
    # Outside Lambda (no context object) the lines simply go without the request id.
    authorizer.handler(event, None)
    (line,) = log_records(captured_logs())
    assert "aws_request_id" not in line
    assert line["cold_start"] is False


def message_body(body: str) -> dict[str, object]:
    event = load_event("message")
    event["body"] = body
    return event


def test_timestamps_follow_each_record_across_seconds() -> None:
    # The part down to the second is cached: a record of another second must not reuse it.
    formatter = logs.JsonFormatter()
    logger = logging.getLogger("ws_bridge.test")
    stamps = []
    for second, msecs in (
        (1_700_000_000, 123),
        (1_700_000_000, 999),
        (1_700_000_001, 4),
        (86_400, 500),
    ):
        record = logger.makeRecord("ws_bridge.test", logging.INFO, __file__, 1, "m", (), None)
        record.created, record.msecs = second + msecs / 1000, msecs
        stamps.append(json.loads(formatter.format(record))["timestamp"])
    assert stamps == [
        "2023-11-14T22:13:20.123Z",
        "2023-11-14T22:13:20.999Z",
        "2023-11-14T22:13:21.004Z",
        "1970-01-02T00:00:00.500Z",
    ]


def test_bind_nests_and_restores_the_outer_fields() -> None:
    formatter = logs.JsonFormatter()
    record = logging.getLogger("ws_bridge.test").makeRecord(
        "ws_bridge.test", logging.INFO, __file__, 1, "m", (), None
    )
    with logs.bind(connectionId="outer", routeKey="$default"):
        with logs.bind(connectionId="inner", requestId=None):
            inner = json.loads(formatter.format(record))
        outer = json.loads(formatter.format(record))
    assert (inner["connectionId"], inner["routeKey"]) == ("inner", "$default")
    assert "requestId" not in inner
    assert (outer["connectionId"], outer["routeKey"]) == ("outer", "$default")
    assert "connectionId" not in json.loads(formatter.format(record))
