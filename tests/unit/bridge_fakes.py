"""Test doubles that speak real protocols: an HTTP server on 127.0.0.1 in a thread (the
backend, a JWKS endpoint, a misbehaving DynamoDB) and token/event builders."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import jwt

from ws_bridge_backend.traceparent import is_valid

EVENTS = Path(__file__).parent / "events"
REGION = "eu-west-1"
TABLE = "ws-bridge-connections"

# The backend timeouts of the unit tests. A prompt answer must never come too late, even on
# two cores that run both lanes of `make test`: every test waits PATIENT_TIMEOUT, except a
# test about a timeout, which sets SHORT_TIMEOUT and has the backend answer later still.
PATIENT_TIMEOUT = "5"
SHORT_TIMEOUT = "0.5"


def backend_timeout(reply: Reply | None) -> str:
    """BACKEND_TIMEOUT_SECONDS for a test whose backend answers `reply`: short only when that
    answer is meant to come after it."""
    late = reply is not None and reply.delay > float(SHORT_TIMEOUT)
    return SHORT_TIMEOUT if late else PATIENT_TIMEOUT


# 43 bytes: longer than SHA-256's output, as RFC 7518 section 3.2 requires.
SECRET = "unit-test-hmac-secret-0123456789-abcdefghij"


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeServer:
    """A real HTTP/1.1 server; replies are set per (method, path), requests are recorded."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.default = Reply(404, {"error": "not found"})
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply(self, method: str, path: str, reply: Reply) -> None:
        self.replies[(method, path)] = reply

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(seen)
                reply = server.replies.get((self.command, path), server.default)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                data, content_type = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def free_port() -> int:
    """A port with nothing listening on it (for 'backend down')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


def set_query(event: dict[str, Any], **params: str | list[str]) -> dict[str, Any]:
    """Set query-string parameters in both forms, as API Gateway does."""
    single = event.setdefault("queryStringParameters", {}) or {}
    multi = event.setdefault("multiValueQueryStringParameters", {}) or {}
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        single[name] = values[-1]
        multi[name] = values
    event["queryStringParameters"], event["multiValueQueryStringParameters"] = single, multi
    return event


def set_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    event.setdefault("headers", {})[name] = value
    event.setdefault("multiValueHeaders", {})[name] = [value]
    return event


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "user-1", "sessionId": "sess-1", "iat": now, "exp": now + 300}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def hs_token(secret: str = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm=algorithm)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token assembled by hand, HMAC-SHA256-signed with ``key`` (or unsigned)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def create_table(name: str = TABLE) -> str:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "sessionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "sessionId-index",
                "KeySchema": [{"AttributeName": "sessionId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "userId-index",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def scan(name: str = TABLE) -> dict[str, dict[str, Any]]:
    """Every record, by connection id, as plain values."""
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=name)["Items"]
    return {
        item["connectionId"]["S"]: {
            key: (value.get("S") if "S" in value else int(value["N"]))
            for key, value in item.items()
        }
        for item in items
    }


def log_records(text: str) -> list[dict[str, Any]]:
    """The JSON log objects of captured output (metric lines left out); fails if any line
    is not a JSON object."""
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(record, dict) for record in records)
    return [record for record in records if "_aws" not in record]


def metric_lines(text: str) -> list[dict[str, Any]]:
    """The Embedded Metric Format lines of captured output."""
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [record for record in records if isinstance(record, dict) and "_aws" in record]


SUBSCRIPTIONS = "ws-bridge-subscriptions"


def create_subscriptions_table(name: str = SUBSCRIPTIONS) -> str:
    """The subscriptions table as modules/fanout creates it (docs/fanout.md)."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "topicShard", "AttributeType": "S"},
            {"AttributeName": "connectionId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "topicShard", "KeyType": "HASH"},
            {"AttributeName": "connectionId", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "connectionId-index",
                "KeySchema": [
                    {"AttributeName": "connectionId", "KeyType": "HASH"},
                    {"AttributeName": "topicShard", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def untraced(response: dict[str, Any]) -> Any:
    """The handler's JSON reply without the ``traceparent`` it adds to every message's
    reply, which must be a valid W3C traceparent."""
    reply = json.loads(response["body"])
    assert is_valid(reply.pop("traceparent", None)), reply
    return reply
