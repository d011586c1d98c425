"""Push through the backend SDK (the session layer over ws_bridge_backend.push), as the
reference backend does it:
moto's DynamoDB in-process and a stub ``@connections`` server.

moto's apigatewaymanagementapi never answers 410, so the ``@connections`` endpoint is a small
HTTP server on 127.0.0.1 that answers 200, or 410 ``GoneException`` for the ids it is told are
gone; boto3 reaches it through the backend's ``--callback-url``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import unquote

import boto3
import pytest
from local_support import BackendFactory
from moto import mock_aws

from ws_bridge import aws
from ws_bridge.connections_table import new_connection, put_connection
from ws_bridge_backend.delivery import PusherDelivery
from wslocal.reference_backend.aws import sdk_pusher

TABLE = "ws-connections"
STAGE = "local"


class ConnectionsStub(BaseHTTPRequestHandler):
    gone: ClassVar[set[str]] = set()
    posts: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        prefix = f"/{STAGE}/@connections/"
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(prefix):
            self._answer(404, b'{"message":"not found"}')
            return
        connection_id = unquote(self.path.removeprefix(prefix))
        if connection_id in self.gone:
            self._answer(410, b'{"message":"gone"}', error_type="GoneException")
            return
        self.posts.append((connection_id, data))
        self._answer(200, b"")

    def _answer(self, status: int, payload: bytes, error_type: str | None = None) -> None:
        self.send_response(status)
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def callback_url() -> Iterator[str]:
    ConnectionsStub.gone = set()
    ConnectionsStub.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ConnectionsStub)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{STAGE}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def table(aws_env: None) -> Iterator[str]:
    aws.reset_clients()
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("connectionId", "sessionId", "userId")
            ],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": f"{name}-index",
                    "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for name in ("sessionId", "userId")
            ],
        )
        yield TABLE
    aws.reset_clients()


def connection_ids() -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {item["connectionId"]["S"] for item in items}


def test_push_reaches_every_connection_of_the_session_and_deletes_gone_ones(
    table: str, callback_url: str, start_backend: BackendFactory
) -> None:
    for connection_id, session, user in [
        ("R0oXAdfD0kwCH6w=", "lab-1", "alice"),
        ("stale/Id+1=", "lab-1", "alice"),
        ("B2", "lab-1", "bob"),
        ("C3", "lab-2", "carol"),
    ]:
        # Connected a minute ago: past the grace window in which a 410 may only mean that
        # $connect has not finished yet (such a record is kept).
        record = new_connection(connection_id, session, user, now=time.time() - 60)
        put_connection(table, record)
    ConnectionsStub.gone = {"stale/Id+1="}
    backend = start_backend(delivery=PusherDelivery(sdk_pusher(table, callback_url)))

    payload = b'{"type":"notice","text":"maintenance in 5 minutes"}'
    response = backend.request("POST", "/api/push/session/lab-1", raw=payload)

    assert response.status == 200, response.data
    assert response.json() == {"sent": 2, "gone": 1, "failed": 0, "seq": 1}
    numbered = b'{"seq":1,"type":"notice","text":"maintenance in 5 minutes"}'
    assert sorted(ConnectionsStub.posts) == [("B2", numbered), ("R0oXAdfD0kwCH6w=", numbered)]
    assert connection_ids() == {"R0oXAdfD0kwCH6w=", "B2", "C3"}


def test_push_to_a_session_without_connections_sends_nothing(
    table: str, callback_url: str, start_backend: BackendFactory
) -> None:
    put_connection(table, new_connection("C3", "lab-2", "carol", ttl_seconds=600))
    backend = start_backend(delivery=PusherDelivery(sdk_pusher(table, callback_url)))
    response = backend.request("POST", "/api/push/session/lab-1", body={"type": "notice"})
    assert response.json() == {"sent": 0, "gone": 0, "failed": 0, "seq": 1}
    assert ConnectionsStub.posts == []


def test_expired_records_are_not_pushed_to(
    table: str, callback_url: str, start_backend: BackendFactory
) -> None:
    expired = new_connection("OLD", "lab-1", "alice", ttl_seconds=60, now=time.time() - 3600)
    put_connection(table, expired)
    put_connection(table, new_connection("NEW", "lab-1", "alice", ttl_seconds=600))
    backend = start_backend(delivery=PusherDelivery(sdk_pusher(table, callback_url)))
    response = backend.request("POST", "/api/push/session/lab-1", body={"type": "notice"})
    assert response.json()["sent"] == 1
    assert [cid for cid, _ in ConnectionsStub.posts] == ["NEW"]


def test_a_missing_table_is_a_502(
    aws_env: None, callback_url: str, start_backend: BackendFactory
) -> None:
    aws.reset_clients()
    with mock_aws():
        backend = start_backend(delivery=PusherDelivery(sdk_pusher("no-such-table", callback_url)))
        response = backend.request("POST", "/api/push/session/lab-1", body={"type": "notice"})
    aws.reset_clients()
    assert response.status == 502
    assert response.json()["error"] == "push_failed"
