"""The `@connections` management API on its own HTTP port.

`POST|GET|DELETE /<stage>/@connections/<url-encoded connection id>`, answered in the
rest-json shapes boto3's `apigatewaymanagementapi` client parses: errors carry an
`x-amzn-ErrorType` header (`GoneException`, `PayloadTooLargeException`,
`ForbiddenException`) and a `{"message": ...}` body. Calls must be SigV4-signed; the
signature and the caller's `execute-api:ManageConnections` permission are checked by
`caller_check` when one is given (`caller_auth`), before the connection is looked up.

A small HTTP/1.1 server on asyncio streams: keep-alive, `Content-Length` bodies only,
which is what botocore sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from wslocal.gateway.callbacks import ConnectionGone, OpenConnections
from wslocal.gateway.caller_auth import CallerCheck
from wslocal.gateway.events import new_request_id

__all__ = ["ManagementServer"]

log = logging.getLogger("wslocal.gateway")

_MAX_HEADER_LINES = 100
_MAX_BODY_BYTES = 8 * 1024 * 1024
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    410: "Gone",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class _BadRequest(Exception):
    pass


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    version: str
    headers: Mapping[str, str]
    body: bytes
    raw_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _error(status: int, error_type: str, message: str) -> _Response:
    return _Response(
        status,
        json.dumps({"message": message}).encode(),
        (("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)),
    )


def _is_signed(headers: Mapping[str, str]) -> bool:
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return False
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
        if "=" in part
    )
    scope = fields.get("Credential", "").split("/")
    return (
        len(scope) == 5
        and scope[3] == "execute-api"
        and bool(fields.get("SignedHeaders"))
        and bool(fields.get("Signature"))
        and ("x-amz-date" in headers or "date" in headers)
    )


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise _BadRequest("truncated request line") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request line too long") from exc
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest("malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    for _ in range(_MAX_HEADER_LINES):
        raw = (await reader.readuntil(b"\r\n")).decode("latin-1")
        if raw == "\r\n":
            break
        name, sep, value = raw.partition(":")
        if not sep:
            raise _BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
        raw_headers.append((name.strip(), value.strip()))
    else:
        raise _BadRequest("too many headers")
    if "transfer-encoding" in headers:
        raise _BadRequest("chunked bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise _BadRequest("bad Content-Length") from exc
    if length < 0 or length > _MAX_BODY_BYTES:
        raise _BadRequest("body too large")
    body = await reader.readexactly(length) if length else b""
    return _Request(method, target, version, headers, body, tuple(raw_headers))


class ManagementServer:
    """Serves `@connections` for one stage from `registry`."""

    def __init__(
        self,
        registry: OpenConnections,
        stage: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_payload_bytes: int = 128 * 1024,
        caller_check: CallerCheck | None = None,
        resource_prefix: str = "",
        base_paths: tuple[str, ...] = (),
    ) -> None:
        self.registry = registry
        # `{resource_prefix}/{METHOD}/@connections/{id}` is the resource a caller needs
        # execute-api:ManageConnections on (the prefix: the API's execution ARN and stage).
        self.caller_check = caller_check
        self.resource_prefix = resource_prefix
        # A custom domain's base paths that lead here too ("": the domain's root).
        self.base_paths = base_paths
        self.stage = stage
        self.host = host
        self.port = port
        self.max_payload_bytes = max_payload_bytes
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._clients):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    await self._write(writer, _error(400, "BadRequestException", str(exc)), False)
                    return
                if request is None:
                    return
                response = await self._handle(request)
                keep_alive = (
                    request.version == "HTTP/1.1"
                    and request.headers.get("connection", "").lower() != "close"
                )
                await self._write(writer, response, keep_alive)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _write(
        self, writer: asyncio.StreamWriter, response: _Response, keep_alive: bool
    ) -> None:
        reason = _REASONS.get(response.status, "Unknown")
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        headers: list[tuple[str, str]] = [
            ("x-amzn-RequestId", new_request_id()),
            ("Content-Length", str(len(response.body))),
            ("Connection", "keep-alive" if keep_alive else "close"),
            *response.headers,
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        await writer.drain()

    def _connection_id(self, target: str) -> str | None:
        """The id in `/<stage>/@connections/<id>`, or `/<base path>/@connections/<id>` of
        a custom domain mapping (`/@connections/<id>` for an empty base path)."""
        path = urlsplit(target).path
        prefixes = [f"/{quote(self.stage, safe='')}"]
        prefixes += [f"/{quote(p, safe='/')}" if p else "" for p in self.base_paths]
        for prefix in prefixes:
            rest = path.removeprefix(prefix + "/@connections/")
            if rest != path and rest and "/" not in rest:
                return unquote(rest)
        return None

    async def _handle(self, request: _Request) -> _Response:
        connection_id = self._connection_id(request.target)
        if (
            connection_id is None
            or request.method not in {"POST", "GET", "DELETE"}
            or not _is_signed(request.headers)
        ):
            return _error(403, "ForbiddenException", "Missing Authentication Token")
        if self.caller_check is not None:
            resource = f"{self.resource_prefix}/{request.method}/@connections/{connection_id}"
            refusal = await self.caller_check.check(
                request.method, request.target, request.raw_headers, request.body, resource
            )
            if refusal is not None:
                error_type = (
                    "ForbiddenException" if refusal.status == 403 else "InternalServerError"
                )
                return _error(refusal.status, error_type, refusal.message)
        try:
            if request.method == "POST":
                if len(request.body) > self.max_payload_bytes:
                    return _error(413, "PayloadTooLargeException", "Request entity too large")
                await self.registry.post_to_connection(connection_id, request.body)
                return _Response(200)
            if request.method == "GET":
                status = await self.registry.get_connection(connection_id)
                document: dict[str, Any] = {
                    "connectedAt": _iso(status.connected_at_ms),
                    "identity": {"sourceIp": status.source_ip, "userAgent": status.user_agent},
                    "lastActiveAt": _iso(status.last_active_at_ms),
                }
                return _Response(
                    200, json.dumps(document).encode(), (("Content-Type", "application/json"),)
                )
            await self.registry.delete_connection(connection_id)
            return _Response(204)
        except ConnectionGone:
            return _error(410, "GoneException", f"Connection {connection_id} is gone")
