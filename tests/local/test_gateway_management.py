"""The gateway's `@connections` endpoint over HTTP, with a registry of its own: statuses,
error shapes and request limits as boto3's client and API Gateway have them."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from wslocal.gateway.callbacks import ConnectionGone, ConnectionStatus
from wslocal.gateway.management import ManagementServer

SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 "
    "Credential=AKID/20260101/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc",
    "X-Amz-Date": "20260101T000000Z",
}
KNOWN = "a/b+c=="


@dataclass
class Registry:
    posted: list[tuple[str, bytes]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    async def post_to_connection(self, connection_id: str, data: bytes) -> None:
        if connection_id != KNOWN:
            raise ConnectionGone(connection_id)
        self.posted.append((connection_id, data))

    async def get_connection(self, connection_id: str) -> ConnectionStatus:
        if connection_id != KNOWN:
            raise ConnectionGone(connection_id)
        return ConnectionStatus(1_700_000_000_123, 1_700_000_001_000, "127.0.0.1", "agent/1")

    async def delete_connection(self, connection_id: str) -> None:
        if connection_id != KNOWN:
            raise ConnectionGone(connection_id)
        self.deleted.append(connection_id)


@dataclass
class Running:
    server: ManagementServer
    registry: Registry

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        own = connection is None
        connection = connection or http.client.HTTPConnection(
            "127.0.0.1", self.server.port, timeout=10
        )
        try:
            connection.request(method, path, body=body, headers={**SIGNED, **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            if own:
                connection.close()


@pytest.fixture
def running() -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    registry = Registry()
    server = ManagementServer(registry, "local", max_payload_bytes=128 * 1024)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield Running(server, registry)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_post_get_delete_answer_as_boto3_expects(running: Running) -> None:
    target = "/local/@connections/a%2Fb%2Bc%3D%3D"
    connection = http.client.HTTPConnection("127.0.0.1", running.server.port, timeout=10)
    try:
        status, headers, _ = running.call("POST", target, b"hi", connection=connection)
        assert status == 200
        assert headers["x-amzn-RequestId"]
        status, headers, body = running.call("GET", target, connection=connection)
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {
            "connectedAt": "2023-11-14T22:13:20.123Z",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "agent/1"},
            "lastActiveAt": "2023-11-14T22:13:21.000Z",
        }
        assert running.call("DELETE", target, connection=connection)[0] == 204
    finally:
        connection.close()
    assert running.registry.posted == [(KNOWN, b"hi")]
    assert running.registry.deleted == [KNOWN]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error_type"),
    [
        ("POST", "/local/@connections/unknown", b"x", {}, 410, "GoneException"),
        ("GET", "/local/@connections/unknown", None, {}, 410, "GoneException"),
        (
            "POST",
            "/local/@connections/x",
            b"x" * (128 * 1024 + 1),
            {},
            413,
            "PayloadTooLargeException",
        ),
        ("POST", "/local/@connections/x", b"x", {"Authorization": ""}, 403, "ForbiddenException"),
        ("POST", "/other/@connections/x", b"x", {}, 403, "ForbiddenException"),
        ("PUT", "/local/@connections/x", b"x", {}, 403, "ForbiddenException"),
        (
            "POST",
            "/local/@connections/x",
            b"x" * (8 * 1024 * 1024 + 1),
            {},
            400,
            "BadRequestException",
        ),
    ],
    ids=["gone", "gone-get", "over-128-kb", "unsigned", "other-stage", "method", "over-8-mb"],
)
def test_errors_carry_their_type_and_status(
    running: Running,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    error_type: str,
) -> None:
    answered, answer_headers, answer = running.call(method, path, body, headers)
    assert (answered, answer_headers["x-amzn-ErrorType"]) == (status, error_type)
    assert "message" in json.loads(answer)
    assert running.registry.posted == []


def test_a_chunked_body_is_refused(running: Running) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", running.server.port, timeout=10)
    try:
        connection.request(
            "POST", "/local/@connections/x", body=iter([b"a", b"b"]), headers=SIGNED,
            encode_chunked=True,
        )  # fmt: skip
        response = connection.getresponse()
        assert response.status == 400
        assert response.getheader("x-amzn-ErrorType") == "BadRequestException"
    finally:
        connection.close()
    assert running.registry.posted == []
