"""Pushing to clients through @connections.

moto's @connections accepts every post and never answers 410 (GoneException), so the stale
connection case stubs exactly that boto3 call with botocore's Stubber; the DynamoDB side is
moto throughout.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from bridge_fakes import REGION, FakeServer, Reply, scan
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ws_bridge import aws, connections_table, push
from ws_bridge.push import PostOutcome, PushResult

ENDPOINT = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"


def add(table: str, connection_id: str, session: str = "s1", user: str = "u1") -> None:
    connections_table.put_connection(
        table, connections_table.new_connection(connection_id, session, user, ttl_seconds=600)
    )


def management_client() -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION)


def received(connection_id: str) -> bytes:
    """What moto's @connections got for one id (moto keys them by the URL-encoded path)."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    data = [
        bytes(connection.data)
        for key, connection in list(backend.connections.items())
        if unquote(key) == connection_id
    ]
    return data[0] if data else b""


def test_push_to_session_reaches_every_connection_of_that_session(table: str) -> None:
    add(table, "A=")
    add(table, "B=")
    add(table, "C=", session="s2")
    result = push.push_to_session(
        table, "s1", {"type": "output", "text": "ü"}, endpoint_url=ENDPOINT
    )
    assert result == PushResult(sent=2, gone=0, failed=0)
    assert received("A=") == received("B=") == '{"type":"output","text":"ü"}'.encode()
    assert received("C=") == b""
    assert set(scan()) == {"A=", "B=", "C="}


def test_push_to_user(table: str) -> None:
    add(table, "A=", user="alice")
    add(table, "B=", session="s2", user="alice")
    add(table, "C=", user="bob")
    result = push.push_to_user(table, "alice", "plain text", endpoint_url=ENDPOINT)
    assert result.sent == 2
    assert received("A=") == received("B=") == b"plain text"


def test_gone_connection_loses_its_record_and_only_its_record(table: str) -> None:
    add(table, "live=")
    add(table, "stale=")
    add(table, "other=", session="s2")
    connections = sorted(
        connections_table.connections_for_session(table, "s1"), key=lambda c: c.connection_id
    )
    assert [c.connection_id for c in connections] == ["live=", "stale="]
    client = management_client()
    data = b'{"type":"output"}'
    with Stubber(client) as stub:
        stub.add_response("post_to_connection", {}, {"ConnectionId": "live=", "Data": data})
        stub.add_client_error(
            "post_to_connection",
            service_error_code="GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": "stale=", "Data": data},
        )
        result = push.push_to_connections(connections, data, management=client, table_name=table)
        stub.assert_no_pending_responses()
    assert result == PushResult(sent=1, gone=1, failed=0)
    assert set(scan()) == {"live=", "other="}


@pytest.mark.parametrize(
    ("code", "status"), [("ForbiddenException", 403), ("LimitExceededException", 429)]
)
def test_other_errors_keep_the_record(table: str, code: str, status: int) -> None:
    add(table, "A=")
    client = management_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "post_to_connection", service_error_code=code, http_status_code=status
        )
        outcome = push.post_to_connection(client, "A=", b"x", table_name=table)
    assert outcome is PostOutcome.FAILED
    assert set(scan()) == {"A="}


def test_gone_when_the_record_cannot_be_deleted_still_counts_as_gone(moto: None) -> None:
    client = management_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410
        )
        outcome = push.post_to_connection(client, "A=", b"x", table_name="no-such-table")
    assert outcome is PostOutcome.GONE


def test_messages_over_128_kb_are_refused_before_any_call(table: str) -> None:
    add(table, "A=")
    with pytest.raises(ValueError, match="at most 131072 bytes"):
        push.push_to_session(table, "s1", "x" * (128 * 1024 + 1), endpoint_url=ENDPOINT)
    assert received("A=") == b""


def test_encode_message() -> None:
    assert push.encode_message({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert push.encode_message("é") == "é".encode()
    assert push.encode_message(b"\x00") == b"\x00"
    assert json.loads(push.encode_message({"k": "v" * 1000}))["k"] == "v" * 1000


def test_a_client_or_an_endpoint_is_needed(table: str) -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        push.push_to_session(table, "s1", "x")


@pytest.mark.parametrize(
    "reply",
    [Reply(500, {"message": "Internal server error"}), Reply(503, {}), Reply(drop=True)],
    ids=["500", "503", "dropped"],
)
def test_a_failed_post_is_not_sent_twice(
    server: FakeServer, reply: Reply, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The message may have reached the client before the failure: a retry could deliver it
    # twice, so the client of the @connections API makes one attempt only.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    server.default = reply
    client = aws.management_api(f"{server.url}/prod")
    outcome = push.post_to_connection(client, "A=", b"hello", table_name="t")
    assert outcome is PostOutcome.FAILED
    (post,) = server.seen()
    assert (post.method, post.path, post.body) == ("POST", "/prod/@connections/A%3D", b"hello")


def test_push_to_session_encodes_the_message_once(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(table, "A=")
    add(table, "B=")
    calls: list[object] = []
    encode = push.encode_message

    def counting(message: Any) -> bytes:
        calls.append(message)
        return encode(message)

    monkeypatch.setattr(push, "encode_message", counting)
    result = push.push_to_session(table, "s1", {"type": "output"}, endpoint_url=ENDPOINT)
    assert result.sent == 2
    assert calls == [{"type": "output"}]
    assert received("A=") == received("B=") == b'{"type":"output"}'


@pytest.mark.parametrize(
    "message",
    [{"n": float("inf")}, {"n": float("nan")}, {"text": "\ud800"}, "\udfff"],
    ids=["infinity", "nan", "lone-surrogate", "lone-surrogate-string"],
)
def test_messages_that_are_not_strict_json_are_refused_before_any_call(
    table: str, message: Any
) -> None:
    add(table, "A=")
    with pytest.raises(ValueError, match=r"not JSON compliant|surrogates not allowed"):
        push.push_to_session(table, "s1", message, endpoint_url=ENDPOINT)
    assert received("A=") == b""
