"""The gateway: API Gateway's WebSocket data plane for one API and stage read from the
control plane, running the deployed Lambda packages in warm worker processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http
import json
import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import boto3
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wslocal.gateway import caller_auth
from wslocal.gateway.control_plane import (
    ApiDefinition,
    ControlPlaneError,
    Route,
    load_api,
    load_base_path,
)
from wslocal.gateway.events import (
    ConnectionInfo,
    HandshakeRequest,
    authorizer_event,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
    new_request_id,
    now_ms,
)
from wslocal.gateway.lambda_host import HostError, HostSettings, LambdaHost
from wslocal.gateway.management import ConnectionGone, ConnectionStatus, ManagementServer
from wslocal.gateway.policy import (
    authorizer_policy_allows,
    lambda_policy_allows,
    primitive_context,
)
from wslocal.gateway.routing import RouteSelector
from wslocal.gateway.runtime import (
    FunctionPool,
    Invocation,
    InvocationError,
)

__all__ = ["Gateway", "GatewayError", "GatewaySettings"]

log = logging.getLogger("wslocal.gateway")

AUTHORIZER_RESULT_MAX_BYTES = 8 * 1024
# API Gateway's fixed WebSocket quotas: a longer request URL is refused before anything
# runs; a larger frame closes the connection with 1009 (messages may be larger, in frames).
MAX_URL_CHARACTERS = 4096
MAX_FRAME_BYTES = 32 * 1024
_CLOSE_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection was closed abnormally",
    1009: "Message too big",
}
# Headers of a $connect result that belong to the WebSocket handshake itself.
_QUEUE_GRACE_SECONDS = 5.0
_HANDSHAKE_HEADERS = frozenset(
    {
        "connection",
        "upgrade",
        "sec-websocket-accept",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
        "transfer-encoding",
    }
)


class GatewayError(Exception):
    """The gateway cannot serve the API; the message says why."""


@dataclass(frozen=True)
class GatewaySettings:
    """What to serve and how. The limits default to API Gateway's."""

    api_id: str
    stage: str
    package_dirs: Sequence[Path]
    host: str = "127.0.0.1"
    ws_port: int = 0
    http_port: int = 0
    workers: int = 2
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_url_characters: int = MAX_URL_CHARACTERS
    shutdown_timeout: float = 15.0
    # How long an invocation waits for a free worker before it fails as a throttled
    # Lambda invocation; None: the function's own Timeout.
    queue_timeout: float | None = None
    # The longest a Lambda authorizer may take, as API Gateway's integration limit.
    authorizer_timeout: float = 29.0
    # Added to every worker's Lambda environment (over the function's own variables; Lambda's
    # reserved variables still win), e.g. SSL_CERT_FILE for a local certificate authority.
    worker_environment: Mapping[str, str] = field(default_factory=dict)
    # "role": each function runs with temporary credentials of its execution role
    # (sts:AssumeRole on the control plane), as on Lambda; "gateway": with this process's.
    function_credentials: Literal["role", "gateway"] = "role"
    # A custom domain whose API mapping to this stage is served too: WebSocket clients on
    # `/<base path>` (`/` for an empty one) and `@connections` under the same prefix.
    domain_name: str | None = None
    # How often a function's role is assumed again (its credentials last an hour).
    credentials_refresh_seconds: float = 45 * 60.0


@dataclass(eq=False)
class _Session:
    info: ConnectionInfo
    request: HandshakeRequest
    ws: ServerConnection
    state: Literal["connecting", "open", "closing", "closed"] = "connecting"
    last_active_ms: int = 0
    subprotocol: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    close_cause: tuple[int, str] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _json_response(status: int, document: Mapping[str, Any] | None = None) -> Response:
    return _response(status, b"" if document is None else json.dumps(document).encode(), True)


def _response(status: int, body: bytes, is_json: bool = False) -> Response:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = Headers()
    if body:
        headers["Content-Type"] = "application/json" if is_json else "text/plain; charset=utf-8"
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    return Response(status, phrase, headers, body)


def _integration_failure(error: InvocationError) -> str:
    if error.error_type == "IntegrationTimeout":
        return "Endpoint request timed out"
    return "Internal server error"


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Gateway:
    """API Gateway's WebSocket data plane for `settings.api_id` / `settings.stage`.

    Use `async with Gateway(settings) as gateway:` (or `await start()` / `await stop()`).
    `ws_url` is where clients connect, `connections_url` the `@connections` endpoint for
    boto3's `apigatewaymanagementapi` client. The `@connections` operations are also
    available as coroutines: `post_to_connection`, `get_connection`, `delete_connection`.
    """

    def __init__(
        self, settings: GatewaySettings, *, session: boto3.session.Session | None = None
    ) -> None:
        self.settings = settings
        self._boto_session = session
        self._api: ApiDefinition | None = None
        self._selector: RouteSelector | None = None
        self._host: LambdaHost | None = None
        self._base_path: str | None = None
        self._permissions: dict[tuple[str, str], bool] = {}
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, _Session] = (
            weakref.WeakKeyDictionary()
        )
        self._open: dict[str, _Session] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._ws_server: Server | None = None
        self._management: ManagementServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self.ws_port = settings.ws_port
        self.http_port = settings.http_port

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def api(self) -> ApiDefinition:
        if self._api is None:
            raise RuntimeError("the gateway is not started")
        return self._api

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.ws_port}/{self.settings.stage}"

    @property
    def connections_url(self) -> str:
        return f"http://{self.settings.host}:{self.http_port}/{self.settings.stage}"

    @property
    def domain_ws_url(self) -> str | None:
        """Where clients connect through the custom domain's mapping (None without one)."""
        if self._base_path is None:
            return None
        return f"ws://{self.settings.host}:{self.ws_port}/{self._base_path}"

    @property
    def domain_connections_url(self) -> str | None:
        """The `@connections` endpoint through the custom domain's mapping."""
        if self._base_path is None:
            return None
        return f"http://{self.settings.host}:{self.http_port}/{self._base_path}".rstrip("/")

    @property
    def worker_pids(self) -> list[int]:
        return self._host.pids if self._host is not None else []

    @property
    def open_connection_ids(self) -> list[str]:
        return list(self._open)

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Load the API, start the workers, then listen. Raises GatewayError."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        try:
            api = await asyncio.to_thread(
                load_api, settings.api_id, settings.stage, self._boto_session
            )
            self._selector = RouteSelector(api.route_selection_expression, api.routes.keys())
            if settings.domain_name:
                self._base_path = await asyncio.to_thread(
                    load_base_path,
                    settings.domain_name,
                    settings.api_id,
                    settings.stage,
                    self._boto_session,
                )
        except (ControlPlaneError, ValueError) as exc:
            raise GatewayError(str(exc)) from exc
        self._api = api
        for route in api.routes.values():
            if route.integration_id is None and route.route_key not in {"$connect", "$disconnect"}:
                log.warning("route %s has no integration", route.route_key)

        caller_check = await caller_auth.probe(self._endpoint_url())
        if caller_check is None:
            log.warning(
                "the control plane cannot check @connections callers: their SigV4 signature "
                "and execute-api:ManageConnections permission are not verified"
            )
        self._management = ManagementServer(
            self,
            settings.stage,
            host=settings.host,
            port=settings.http_port,
            max_payload_bytes=settings.max_message_bytes,
            caller_check=caller_check,
            resource_prefix=f"{api.execution_arn}/{api.stage}",
            base_paths=() if self._base_path is None else (self._base_path,),
        )
        await self._management.start()
        self.http_port = self._management.port

        self._host = LambdaHost(
            api,
            HostSettings(
                package_dirs=settings.package_dirs,
                workers=settings.workers,
                queue_timeout=settings.queue_timeout,
                worker_environment=settings.worker_environment,
                function_credentials=settings.function_credentials,
                credentials_refresh_seconds=settings.credentials_refresh_seconds,
                extra_environment={
                    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": self.connections_url
                },
            ),
            session=self._boto_session,
        )
        try:
            await self._host.start()
        except HostError as exc:
            raise GatewayError(str(exc)) from exc

        self._ws_server = await serve(
            self._handler,
            settings.host,
            settings.ws_port,
            process_request=self._process_request,
            process_response=self._process_response,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            max_size=(settings.max_message_bytes, settings.max_frame_bytes),
            ping_interval=None,
            open_timeout=120,
            close_timeout=5,
            server_header=None,
            backlog=1024,
        )
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        for note in api.notes:
            log.warning("%s", note)

    def _pools(self) -> dict[str, FunctionPool]:
        if self._host is None:
            raise RuntimeError("the gateway is not started")
        return self._host.pools

    def _endpoint_url(self) -> str | None:
        """The control plane's endpoint (AWS_ENDPOINT_URL, as boto3 resolves it)."""
        session = self._boto_session or boto3.session.Session()
        url: str | None = session.client("sts").meta.endpoint_url
        if url is None or url.endswith(".amazonaws.com"):
            return None
        return url

    async def stop(self) -> None:
        """Close every connection (firing `$disconnect`), then stop the workers."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._ws_server is not None:
            for session in list(self._open.values()):
                if session.close_cause is None:
                    session.close_cause = (1001, _CLOSE_REASONS[1001])
            self._ws_server.close(close_connections=True)
            try:
                async with asyncio.timeout(self.settings.shutdown_timeout):
                    await self._ws_server.wait_closed()
            except TimeoutError:
                log.warning(
                    "connections did not close within %.0f s", self.settings.shutdown_timeout
                )
            self._ws_server = None
        for session in list(self._open.values()):
            for task in session.tasks:
                task.cancel()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._management is not None:
            await self._management.stop()
            self._management = None
        if self._host is not None:
            await self._host.stop()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- invoking Lambda ------------------------------------------------------------------

    def _permitted(self, function_arn: str, source_arn: str) -> bool:
        key = (function_arn, source_arn)
        if key not in self._permissions:
            function = self.api.functions[function_arn]
            allowed = lambda_policy_allows(
                function.policy, source_arn=source_arn, source_account=self.api.account_id
            )
            if not allowed:
                log.warning(
                    "API Gateway is not allowed to invoke %s for %s: no matching "
                    "lambda:InvokeFunction permission",
                    function.name,
                    source_arn,
                )
            self._permissions[key] = allowed
        return self._permissions[key]

    async def _invoke_route(
        self, route: Route, event: Mapping[str, Any], request_id: str
    ) -> Invocation:
        """Invoke a route's integration as API Gateway does: permission check, then the
        function, within the integration timeout (the function keeps running past it)."""
        if route.integration_id is None:
            return Invocation(error=InvocationError("NoIntegration", "route has no integration"))
        integration = self.api.integrations[route.integration_id]
        if not self._permitted(integration.function_arn, self.api.route_arn(route.route_key)):
            return Invocation(error=InvocationError("AccessDenied", "invoke permission missing"))
        pool = self._pools()[integration.function_arn]
        # A future, not an Event and a task waiting on it: one task less per message.
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = self._spawn(pool.invoke(event, request_id, _Started(started)))
        # Lambda would scale out instead of queueing: the integration timeout counts from
        # when a worker takes the invocation.
        # The pool bounds its own wait for a worker; this bound only guards against a
        # pool that never answers.
        try:
            await asyncio.wait(
                {task, started},
                timeout=pool.queue_timeout + _QUEUE_GRACE_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            took = started.done()
            if not took:
                started.cancel()
        if not took and not task.done():
            log.warning("route %s: no worker took the invocation", route.route_key)
            return Invocation(error=InvocationError("TooManyRequestsException", "no worker"))
        try:
            async with asyncio.timeout(integration.timeout_ms / 1000):
                outcome: Invocation = await asyncio.shield(task)
        except TimeoutError:
            return Invocation(error=InvocationError("IntegrationTimeout", "integration timed out"))
        if outcome.error is not None:
            log.warning(
                "route %s: %s: %s", route.route_key, outcome.error.error_type, outcome.error.message
            )
        return outcome

    # -- the handshake --------------------------------------------------------------------

    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if len(request.path) > self.settings.max_url_characters:
            return _json_response(414, {"message": "Request-URI Too Long"})
        through_domain = self._base_path is not None and path.rstrip(
            "/"
        ) == f"/{self._base_path}".rstrip("/")
        if path.rstrip("/") != f"/{self.settings.stage}" and not through_domain:
            return _json_response(403, {"message": "Forbidden"})
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None  # not a WebSocket upgrade: websockets answers it
        if self._stopping:
            return _json_response(503, {"message": "Service Unavailable"})
        api = self.api
        remote = ws.remote_address
        source_ip = str(remote[0]) if remote else "127.0.0.1"
        raw = list(request.headers.raw_items())
        raw += [
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", str(self.ws_port)),
            ("X-Forwarded-Proto", "http"),
        ]
        connected_at = now_ms()
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            api_id=api.api_id,
            stage=api.stage,
            domain_name=(
                self.settings.domain_name
                if through_domain and self.settings.domain_name
                else api.domain_name
            ),
            source_ip=source_ip,
            user_agent=request.headers.get("User-Agent", ""),
            connected_at_ms=connected_at,
            stage_variables=api.stage_variables,
        )
        session = _Session(
            info=info,
            request=HandshakeRequest(
                path=path,
                raw_headers=tuple(raw),
                query=tuple(parse_qsl(query, keep_blank_values=True)),
            ),
            ws=ws,
            last_active_ms=connected_at,
        )
        route = api.routes.get("$connect")
        if route is not None:
            rejection = await self._authorize(session, route)
            if rejection is not None:
                return rejection
            if route.integration_id is not None:
                rejection = await self._run_connect(session, route)
                if rejection is not None:
                    return rejection
        self._handshakes[ws] = session
        return None

    def _identity_present(self, source: str, session: _Session) -> bool:
        request = session.request
        if source.startswith("route.request.header."):
            return bool(request.header(source.removeprefix("route.request.header.")))
        if source.startswith("route.request.querystring."):
            return bool(request.query_parameter(source.removeprefix("route.request.querystring.")))
        if source.startswith("stageVariables."):
            return bool(self.api.stage_variables.get(source.removeprefix("stageVariables.")))
        return True

    async def _authorize(self, session: _Session, route: Route) -> Response | None:
        if route.authorization_type == "AWS_IAM":
            if not (session.request.header("Authorization") or "").startswith("AWS4-HMAC-SHA256"):
                return _json_response(403, {"message": "Forbidden"})
            return None
        if route.authorization_type != "CUSTOM" or route.authorizer_id is None:
            return None
        api = self.api
        authorizer = api.authorizers[route.authorizer_id]
        if not all(self._identity_present(s, session) for s in authorizer.identity_sources):
            return _json_response(401, {"message": "Unauthorized"})
        if not self._permitted(
            authorizer.function_arn, api.authorizer_arn(authorizer.authorizer_id)
        ):
            return _json_response(500, {"message": "Internal server error"})
        method_arn = api.route_arn("$connect")
        request_id = new_request_id()
        event = authorizer_event(session.info, session.request, method_arn, request_id, now_ms())
        started = time.monotonic()
        # As with an integration, the function keeps running past the limit.
        task = self._spawn(self._pools()[authorizer.function_arn].invoke(event, request_id))
        try:
            async with asyncio.timeout(self.settings.authorizer_timeout):
                outcome: Invocation = await asyncio.shield(task)
        except TimeoutError:
            outcome = Invocation(
                error=InvocationError("AuthorizerTimeout", "the authorizer did not answer")
            )
        latency_ms = int((time.monotonic() - started) * 1000)
        if outcome.error is not None:
            if outcome.error.message == "Unauthorized":
                return _json_response(401, {"message": "Unauthorized"})
            log.warning(
                "authorizer %s failed: %s: %s",
                authorizer.name,
                outcome.error.error_type,
                outcome.error.message,
            )
            return _json_response(500, {"message": "Internal server error"})
        result = outcome.result
        problem = None
        if not isinstance(result, dict) or "principalId" not in result:
            problem = "the answer has no principalId"
        elif len(json.dumps(result, separators=(",", ":"))) > AUTHORIZER_RESULT_MAX_BYTES:
            problem = f"the answer exceeds {AUTHORIZER_RESULT_MAX_BYTES} bytes"
        elif not primitive_context(result.get("context")):
            problem = "context values must be strings, numbers or booleans"
        if problem is not None:
            log.warning("authorizer %s: %s", authorizer.name, problem)
            return _json_response(500, {"message": "Internal server error"})
        assert isinstance(result, dict)
        if not authorizer_policy_allows(result.get("policyDocument"), method_arn):
            return _json_response(403, {"message": "Forbidden"})
        context = {str(k): _stringify(v) for k, v in (result.get("context") or {}).items()}
        context["principalId"] = _stringify(result["principalId"])
        context["integrationLatency"] = latency_ms  # type: ignore[assignment]
        session.info.authorizer = dict(context)
        return None

    async def _run_connect(self, session: _Session, route: Route) -> Response | None:
        request_id = new_request_id()
        event = connect_event(session.info, session.request, request_id, now_ms())
        outcome = await self._invoke_route(route, event, request_id)
        if outcome.error is not None:
            return _json_response(500, {"message": "Internal server error"})
        result = outcome.result
        if not isinstance(result, dict):
            return None
        status = result.get("statusCode", 200)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            log.warning("$connect answered an invalid statusCode %r", status)
            return _json_response(500, {"message": "Internal server error"})
        if not 200 <= status <= 299:
            body = result.get("body")
            return _response(status, body.encode() if isinstance(body, str) else b"")
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((str(name), str(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(v)) for v in values or ())
        for name, value in headers:
            if name.lower() == "sec-websocket-protocol":
                session.subprotocol = value
        session.response_headers = [
            (n, v) for n, v in headers if n.lower() not in _HANDSHAKE_HEADERS
        ]
        return None

    def _select_subprotocol(
        self, ws: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        session = self._handshakes.get(ws)
        if session is None or session.subprotocol is None:
            return None
        return Subprotocol(session.subprotocol) if session.subprotocol in offered else None

    def _process_response(
        self, ws: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        session = self._handshakes.get(ws)
        if session is None or response.status_code != 101:
            return None
        for name, value in session.response_headers:
            response.headers[name] = value
        if session.subprotocol is not None and "Sec-WebSocket-Protocol" not in response.headers:
            # $connect answered a subprotocol the client did not offer: sent as is, and the
            # client fails the handshake, as with API Gateway.
            response.headers["Sec-WebSocket-Protocol"] = session.subprotocol
        return None

    # -- open connections -----------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        session = self._handshakes.pop(ws, None)
        if session is None:
            await ws.close(1011, "internal error")
            return
        connection_id = session.info.connection_id
        session.state = "open"
        self._open[connection_id] = session
        try:
            async for message in ws:
                session.last_active_ms = now_ms()
                task = asyncio.get_running_loop().create_task(self._on_message(session, message))
                session.tasks.add(task)
                task.add_done_callback(session.tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            session.state = "closed"
            self._open.pop(connection_id, None)
            code, reason = self._close_status(session)
            await self._on_disconnect(session, code, reason)

    def _close_status(self, session: _Session) -> tuple[int, str]:
        if session.close_cause is not None:
            return session.close_cause
        protocol = session.ws.protocol
        sent, received = protocol.close_sent, protocol.close_rcvd
        if sent is not None and (received is None or not protocol.close_rcvd_then_sent):
            return int(sent.code), sent.reason or _CLOSE_REASONS.get(int(sent.code), "")
        if received is not None:
            code = int(received.code)
            return code, received.reason or _CLOSE_REASONS.get(code, "")
        return 1006, _CLOSE_REASONS[1006]

    async def _on_message(self, session: _Session, message: str | bytes) -> None:
        assert self._selector is not None
        epoch = now_ms()
        request_id = new_request_id()
        info = session.info
        route_key = self._selector.select(message)
        if route_key is None:
            await self._send(
                session,
                json.dumps(
                    {
                        "message": "Forbidden",
                        "connectionId": info.connection_id,
                        "requestId": request_id,
                    }
                ),
            )
            return
        route = self.api.routes[route_key]
        event = message_event(info, route_key, message, request_id, new_request_id(), epoch)
        outcome = await self._invoke_route(route, event, request_id)
        if outcome.error is not None:
            await self._send(
                session,
                json.dumps(
                    {
                        "message": _integration_failure(outcome.error),
                        "connectionId": info.connection_id,
                        "requestId": request_id,
                    }
                ),
            )
            return
        if not route.two_way:
            return
        reply = _proxy_body(outcome.result)
        if reply is not None:
            await self._send(session, reply)

    async def _send(self, session: _Session, data: str | bytes) -> bool:
        try:
            await session.ws.send(data)
        except ConnectionClosed:
            return False
        session.last_active_ms = now_ms()
        return True

    async def _on_disconnect(self, session: _Session, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        if route is None or route.integration_id is None:
            return
        request_id = new_request_id()
        event = disconnect_event(session.info, code, reason, request_id, now_ms())
        await self._invoke_route(route, event, request_id)

    def _server_close(self, session: _Session, code: int, reason: str) -> None:
        if session.close_cause is not None:
            return
        session.close_cause = (code, reason)
        session.state = "closing"
        self._open.pop(session.info.connection_id, None)
        self._spawn(session.ws.close(code, reason))

    async def _sweep(self) -> None:
        settings = self.settings
        interval = max(0.05, min(1.0, settings.idle_timeout / 4, settings.max_duration / 4))
        while True:
            await asyncio.sleep(interval)
            now = now_ms()
            for session in list(self._open.values()):
                too_old = now - session.info.connected_at_ms >= settings.max_duration * 1000
                idle = now - session.last_active_ms >= settings.idle_timeout * 1000
                if too_old or idle:
                    self._server_close(session, 1001, _CLOSE_REASONS[1001])

    # -- @connections ---------------------------------------------------------------------

    def _open_session(self, connection_id: str) -> _Session:
        session = self._open.get(connection_id)
        if session is None or session.state != "open":
            raise ConnectionGone(connection_id)
        return session

    async def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send `data` to the client: a text frame when it is UTF-8, else binary."""
        session = self._open_session(connection_id)
        try:
            frame: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            frame = data
        if not await self._send(session, frame):
            raise ConnectionGone(connection_id)

    async def get_connection(self, connection_id: str) -> ConnectionStatus:
        session = self._open_session(connection_id)
        return ConnectionStatus(
            connected_at_ms=session.info.connected_at_ms,
            last_active_at_ms=session.last_active_ms,
            source_ip=session.info.source_ip,
            user_agent=session.info.user_agent,
        )

    async def delete_connection(self, connection_id: str) -> None:
        """Close the connection (code 1000); `$disconnect` follows."""
        session = self._open_session(connection_id)
        self._server_close(session, 1000, _CLOSE_REASONS[1000])


class _Started:
    """Sets a future once, the way `FunctionPool.invoke` sets its `started` signal."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


def _proxy_body(result: Any) -> str | bytes | None:
    """What a Lambda proxy result sends back on a two-way route: its `body`."""
    if not isinstance(result, dict):
        return None
    body = result.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        return json.dumps(body)
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return None
    return body
