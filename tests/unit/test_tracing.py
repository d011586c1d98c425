"""One trace per client message (docs/design.md, "Tracing"): the client's W3C traceparent,
or a trace the handler starts, in the backend's signed ``traceparent`` header, on every log
line of the message and in the reply."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from bridge_fakes import (
    PATIENT_TIMEOUT,
    REGION,
    FakeServer,
    Reply,
    free_port,
    load_event,
    log_records,
)

from ws_bridge import aws
from ws_bridge.settings import MAX_MESSAGE_BYTES
from ws_bridge.tracing import message_trace, traced_reply
from ws_bridge_backend.traceparent import is_valid, new_traceparent, trace_id
from ws_bridge_backend.verifier import RequestVerifier, SignatureError

KEY = b"signing-key-0123456789-0123456789-abcdef"
CLIENTS = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
MESSAGE = "/api/ws/message"


@pytest.fixture
def handler(
    load_handler: Callable[..., ModuleType],
    server: FakeServer,
    moto: None,
    monkeypatch: pytest.MonkeyPatch,
) -> ModuleType:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="backend-signing", SecretString=KEY.decode())["ARN"]
    return load_handler(
        CONNECTIONS_TABLE="t",
        BACKEND_URL=server.url,
        BACKEND_TIMEOUT_SECONDS=PATIENT_TIMEOUT,
        BACKEND_SIGNING_SECRET_ARN=arn,
    )


def send(handler: ModuleType, body: dict[str, Any]) -> dict[str, Any]:
    event = load_event("message")
    event["body"] = json.dumps(body)
    reply: dict[str, Any] = handler.handler(event, None)
    return reply


def test_the_client_s_trace_reaches_the_backend_signed_the_log_and_the_reply(
    handler: ModuleType, server: FakeServer, captured_logs: Callable[[], str]
) -> None:
    server.reply("POST", MESSAGE, Reply(200, {"seq": 3, "type": "ok", "id": "c.1"}))
    captured_logs()
    response = send(handler, {"type": "command", "id": "c.1", "traceparent": CLIENTS})
    (call,) = server.seen()
    signed = RequestVerifier([KEY]).verify(call.method, call.path, call.headers, call.body)
    assert signed.traceparent == CLIENTS  # the header, covered by the signature
    assert "traceparent" in call.headers["X-Bridge-Signed-Headers"].split(";")
    assert call.json()["traceparent"] == CLIENTS
    # Spliced in last: the backend's frame is otherwise byte for byte what it sent.
    assert response["body"] == f'{{"seq": 3, "type": "ok", "id": "c.1","traceparent":"{CLIENTS}"}}'
    lines = log_records(captured_logs())
    assert [line["message"] for line in lines] == ["message forwarded"]
    assert all(line["traceparent"] == CLIENTS for line in lines)


def test_a_tampered_traceparent_is_refused_by_the_sdk_verifier(
    handler: ModuleType, server: FakeServer
) -> None:
    server.default = Reply(200, {"type": "ok"})
    send(handler, {"type": "command", "traceparent": CLIENTS})
    (call,) = server.seen()
    tampered = {**call.headers, "traceparent": CLIENTS.replace("4bf9", "4bf8")}
    with pytest.raises(SignatureError, match="bad_signature"):
        RequestVerifier([KEY]).verify(call.method, call.path, tampered, call.body)


@pytest.mark.parametrize(
    "given",
    [
        None,
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        CLIENTS.upper(),
        "01" + CLIENTS[2:],  # a version this handler does not read
        CLIENTS + "-00",
        CLIENTS[:-1],
        " " + CLIENTS,
        42,
    ],
    ids=["none", "zero-trace", "zero-parent", "uppercase", "v01", "long", "short", "space", "int"],
)
def test_a_missing_or_invalid_traceparent_starts_a_trace(
    handler: ModuleType, server: FakeServer, captured_logs: Callable[[], str], given: Any
) -> None:
    server.default = Reply(200, {"type": "ok"})
    body = {"type": "command"} if given is None else {"type": "command", "traceparent": given}
    captured_logs()
    reply = json.loads(send(handler, body)["body"])
    (call,) = server.seen()
    started = reply["traceparent"]
    assert is_valid(started)
    assert started != given
    assert call.headers["traceparent"] == started == call.json()["traceparent"]
    assert [line["traceparent"] for line in log_records(captured_logs())] == [started]


def test_error_replies_carry_the_trace_and_each_message_gets_its_own(
    load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws.reset_clients()
    down = load_handler(CONNECTIONS_TABLE="t", BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    given = json.loads(send(down, {"type": "command", "traceparent": CLIENTS})["body"])
    assert (given["error"], given["traceparent"]) == ("backend_unavailable", CLIENTS)
    event = load_event("message")
    event["body"] = "not json"
    refused = json.loads(down.handler(event, None)["body"])
    again = json.loads(down.handler(event, None)["body"])
    assert refused["error"] == again["error"] == "invalid_json"
    assert trace_id(refused["traceparent"]) != trace_id(again["traceparent"])


def test_a_ping_is_answered_without_a_trace(handler: ModuleType) -> None:
    reply = json.loads(send(handler, {"type": "ping", "traceparent": CLIENTS})["body"])
    assert set(reply) == {"type", "timestamp"}


def test_message_trace_keeps_a_valid_one_and_starts_one_otherwise() -> None:
    assert message_trace({"traceparent": CLIENTS}) == CLIENTS
    assert message_trace("invalid_json") != message_trace("invalid_json")
    fresh = new_traceparent()
    assert is_valid(fresh)
    assert fresh.endswith("-01")


@pytest.mark.parametrize(
    ("reply", "traced"),
    [
        ('{"a":1}', '{"a":1,"traceparent":"T"}'),
        ("{}", '{"traceparent":"T"}'),
        ("{ \n}\n", '{"traceparent":"T"}'),
        ('{"a":{}} ', '{"a":{},"traceparent":"T"}'),
        ("[1]", "[1]"),  # not an object: left as it is
        ('"x"', '"x"'),
        ('{"traceparent":"mine"}', '{"traceparent":"mine"}'),  # the backend's own wins
        ('{"a":"\\"traceparent\\""}', '{"a":"\\"traceparent\\"","traceparent":"T"}'),
    ],
)
def test_the_reply_gets_the_trace_as_its_last_member(reply: str, traced: str) -> None:
    trace = CLIENTS
    assert traced_reply(reply, len(reply), trace) == traced.replace('"T"', f'"{trace}"')


def test_a_reply_at_the_message_limit_is_left_as_it_is() -> None:
    reply = '{"a":"' + "x" * (MAX_MESSAGE_BYTES - 80) + '"}'
    assert traced_reply(reply, len(reply), CLIENTS) == reply
    shorter = reply[:6] + reply[7:]
    assert traced_reply(shorter, len(shorter), CLIENTS) != shorter
