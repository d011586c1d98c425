"""The `@connections` management API on its own HTTP port.

`POST|GET|DELETE /<stage>/@connections/<url-encoded connection id>`, answered in the
rest-json shapes boto3's `apigatewaymanagementapi` client parses: errors carry an
`x-amzn-ErrorType` header (`GoneException`, `PayloadTooLargeException`,
`ForbiddenException`) and a `{"message": ...}` body. Calls must be SigV4-signed; the
signature and the caller's `execute-api:ManageConnections` permission are checked by
`caller_check` when one is given (`caller_auth`), before the connection is looked up.

`POST /_wslocal/faults/drop` with `{"connectionId": ...}`, `{"sessionId": ...}` or `{}` is the
local stack's own fault endpoint (`faults`), unsigned, on this 127.0.0.1 port only: it cuts
those connections as a network does and answers `{"dropped": [ids]}`.

HTTP is werkzeug's, on the local stack's one small server (`wslocal.http_server`): each
request is read in that server's thread, then answered on the gateway's event loop, where
the connections live. Bodies are at most 8 MB and of known length (what botocore sends):
a larger or chunked one is a 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.wrappers import Request, Response

from wslocal.gateway.callbacks import ConnectionGone, OpenConnections
from wslocal.gateway.caller_auth import CallerCheck
from wslocal.gateway.events import new_request_id
from wslocal.http_server import LocalServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["ManagementServer"]

log = logging.getLogger("wslocal.gateway")

_MAX_BODY_BYTES = 8 * 1024 * 1024
FAULTS_DROP_PATH = "/_wslocal/faults/drop"
# The longest a request waits for the event loop's answer (a client that reads its frames
# slowly holds a post up; the caller check has its own 10 s bound).
_ANSWER_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
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


def _read(environ: WSGIEnvironment) -> _Request | _Response:
    """The request as the handling needs it (the target and headers as sent, for the
    signature), or the 400 a body too large, of unknown length or chunked gets."""
    request = Request(environ)
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return _error(400, "BadRequestException", "chunked bodies are not supported")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "BadRequestException", "bad Content-Length")
    if length < 0 or length > _MAX_BODY_BYTES:
        return _error(400, "BadRequestException", "body too large")
    raw_headers = tuple((str(name), str(value)) for name, value in request.headers.items())
    return _Request(
        method=request.method,
        # The request target exactly as sent (percent-escapes kept): what was signed.
        target=str(environ.get("REQUEST_URI") or request.full_path),
        headers={name.lower(): value for name, value in raw_headers},
        body=request.get_data(cache=False) if length else b"",
        raw_headers=raw_headers,
    )


class ManagementServer:
    """Serves `@connections` for one stage from `registry`, on 127.0.0.1:`port`."""

    def __init__(
        self,
        registry: OpenConnections,
        stage: str,
        *,
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
        self.port = port
        self.max_payload_bytes = max_payload_bytes
        self._server: LocalServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Listen; requests are answered on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._server = LocalServer(self._wsgi, port=self.port, name="@connections").start()
        self.port = self._server.port

    async def stop(self) -> None:
        if self._server is None:
            return
        await asyncio.to_thread(self._server.stop)
        self._server = None

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """In the HTTP server's thread: read the request, have the loop answer it."""
        read = _read(environ)
        if isinstance(read, _Response):
            answer = read
        elif urlsplit(read.target).path == FAULTS_DROP_PATH:
            answer = self._on_loop(self._drop(read), read.method)
        else:
            answer = self._on_loop(self._handle(read), read.method)
        response = Response(answer.body, answer.status)
        response.headers["x-amzn-RequestId"] = new_request_id()
        for name, value in answer.headers:
            response.headers[name] = value
        return response(environ, start_response)

    def _on_loop(self, answer: Coroutine[Any, Any, _Response], method: str) -> _Response:
        """``answer``, run on the gateway's event loop, where the connections live."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(answer, self._loop)
        try:
            return future.result(timeout=_ANSWER_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            log.warning("@connections %s took over %.0f s", method, _ANSWER_TIMEOUT_SECONDS)
            return _error(500, "InternalServerError", "Internal server error")

    async def _drop(self, request: _Request) -> _Response:
        """The fault endpoint: cut the connections named by id, by session, or all."""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        keys = ("connectionId", "sessionId")
        if (
            request.method != "POST"
            or not isinstance(body, dict)
            or not all(isinstance(body.get(key), str | None) for key in keys)
        ):
            return _error(400, "BadRequestException", 'POST {"connectionId"} or {"sessionId"}')
        dropped = await self.registry.drop_connections(
            body.get("connectionId"), body.get("sessionId")
        )
        return _Response(
            200, json.dumps({"dropped": dropped}).encode(), (("Content-Type", "application/json"),)
        )

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
