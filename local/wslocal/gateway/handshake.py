"""The WebSocket upgrade, as API Gateway answers it: the URL's length and path (the stage,
or the custom domain's base path), then the authorizer and `$connect`, whose answer may
refuse the upgrade with its status, add headers and choose the subprotocol.

websockets calls `process_request` before it answers the upgrade (a Response refuses it),
`select_subprotocol` and `process_response` while it builds the 101.
"""

from __future__ import annotations

import http
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wslocal.gateway.authorizer import Authorizer
from wslocal.gateway.connections import Connections, Session
from wslocal.gateway.control_plane import ApiDefinition, Route
from wslocal.gateway.events import (
    ConnectionInfo,
    HandshakeRequest,
    connect_event,
    new_connection_id,
    new_request_id,
    now_ms,
)
from wslocal.gateway.integrations import Integrations
from wslocal.gateway.settings import GatewaySettings

__all__ = ["Handshake"]

log = logging.getLogger("wslocal.gateway")

# Headers of a $connect result that belong to the WebSocket handshake itself.
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
# The body API Gateway answers a refused upgrade with, by status.
_REFUSALS = {401: "Unauthorized", 403: "Forbidden", 500: "Internal server error"}


def _json_response(status: int, document: Mapping[str, Any] | None = None) -> Response:
    return _response(status, b"" if document is None else json.dumps(document).encode(), True)


def _refusal(status: int) -> Response:
    return _json_response(status, {"message": _REFUSALS[status]})


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


class Handshake:
    """Decides each upgrade; a connection that passes waits in `connections.handshakes`
    until websockets hands it to the data plane."""

    def __init__(
        self,
        settings: GatewaySettings,
        api: ApiDefinition,
        connections: Connections,
        integrations: Integrations,
        authorizer: Authorizer,
        *,
        base_path: str | None,
        ws_port: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.api = api
        self._connections = connections
        self._integrations = integrations
        self._authorizer = authorizer
        self._base_path = base_path
        self._ws_port = ws_port

    def _session(
        self, ws: ServerConnection, request: Request, path: str, query: str, domain: bool
    ) -> Session:
        """The new connection's state: its id, the event fields and the request as the
        authorizer and `$connect` see it (with API Gateway's X-Forwarded-* headers)."""
        api = self.api
        remote = ws.remote_address
        source_ip = str(remote[0]) if remote else "127.0.0.1"
        raw = list(request.headers.raw_items())
        raw += [
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", str(self._ws_port())),
            ("X-Forwarded-Proto", "http"),
        ]
        connected_at = now_ms()
        domain_name = self.settings.domain_name if domain else None
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            api_id=api.api_id,
            stage=api.stage,
            domain_name=domain_name or api.domain_name,
            source_ip=source_ip,
            user_agent=request.headers.get("User-Agent", ""),
            connected_at_ms=connected_at,
            stage_variables=api.stage_variables,
        )
        handshake_request = HandshakeRequest(
            path=path,
            raw_headers=tuple(raw),
            query=tuple(parse_qsl(query, keep_blank_values=True)),
        )
        return Session(info=info, request=handshake_request, ws=ws, last_active_ms=connected_at)

    async def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if len(request.path) > self.settings.max_url_characters:
            return _json_response(414, {"message": "Request-URI Too Long"})
        through_domain = self._base_path is not None and path.rstrip(
            "/"
        ) == f"/{self._base_path}".rstrip("/")
        if path.rstrip("/") != f"/{self.settings.stage}" and not through_domain:
            return _refusal(403)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None  # not a WebSocket upgrade: websockets answers it
        if not self._connections.accepting:
            return _json_response(503, {"message": "Service Unavailable"})
        session = self._session(ws, request, path, query, through_domain)
        route = self.api.routes.get("$connect")
        if route is not None:
            refused = await self._authorizer.authorize(session, route)
            if refused is not None:
                return _refusal(refused)
            if route.integration_id is not None:
                rejection = await self._run_connect(session, route)
                if rejection is not None:
                    return rejection
        self._connections.handshakes[ws] = session
        return None

    async def _run_connect(self, session: Session, route: Route) -> Response | None:
        request_id = new_request_id()
        event = connect_event(session.info, session.request, request_id, now_ms())
        outcome = await self._integrations.invoke_route(route, event, request_id)
        if outcome.error is not None:
            return _refusal(500)
        result = outcome.result
        if not isinstance(result, dict):
            return None
        status = result.get("statusCode", 200)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            log.warning("$connect answered an invalid statusCode %r", status)
            return _refusal(500)
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

    def select_subprotocol(
        self, ws: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        session = self._connections.handshakes.get(ws)
        if session is None or session.subprotocol is None:
            return None
        return Subprotocol(session.subprotocol) if session.subprotocol in offered else None

    def process_response(
        self, ws: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        session = self._connections.handshakes.get(ws)
        if session is None or response.status_code != 101:
            return None
        for name, value in session.response_headers:
            response.headers[name] = value
        if session.subprotocol is not None and "Sec-WebSocket-Protocol" not in response.headers:
            # $connect answered a subprotocol the client did not offer: sent as is, and the
            # client fails the handshake, as with API Gateway.
            response.headers["Sec-WebSocket-Protocol"] = session.subprotocol
        return None
