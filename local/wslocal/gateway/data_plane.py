"""Open connections, as API Gateway serves them: each message runs on its own (selected
route, its integration, the reply on a two-way route or the failure message), messages
keep a connection active, and `$disconnect` follows every close."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from wslocal.gateway.connections import Connections, Session, close_status
from wslocal.gateway.control_plane import ApiDefinition
from wslocal.gateway.events import disconnect_event, message_event, new_request_id, now_ms
from wslocal.gateway.integrations import Integrations
from wslocal.gateway.routing import RouteSelector
from wslocal.gateway.runtime import InvocationError

__all__ = ["DataPlane", "proxy_body"]


def proxy_body(result: Any) -> str | bytes | None:
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


def _integration_failure(error: InvocationError) -> str:
    if error.error_type == "IntegrationTimeout":
        return "Endpoint request timed out"
    return "Internal server error"


class DataPlane:
    """Serves each connection websockets hands over once its handshake passed."""

    def __init__(
        self,
        api: ApiDefinition,
        selector: RouteSelector,
        connections: Connections,
        integrations: Integrations,
        keep_disconnect: Callable[[str], bool] = lambda _connection_id: True,
    ) -> None:
        self.api = api
        self._selector = selector
        self._connections = connections
        self._integrations = integrations
        self._keep_disconnect = keep_disconnect

    async def serve(self, ws: ServerConnection) -> None:
        """websockets' connection handler: messages until the close, then `$disconnect`."""
        session = self._connections.handshakes.pop(ws, None)
        if session is None:
            await ws.close(1011, "internal error")
            return
        self._connections.opened(session)
        try:
            async for message in ws:
                session.last_active_ms = now_ms()
                task = asyncio.get_running_loop().create_task(self._on_message(session, message))
                session.tasks.add(task)
                task.add_done_callback(session.tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            self._connections.ended(session)
            code, reason = close_status(session)
            await self._on_disconnect(session, code, reason)

    async def _fail(self, session: Session, message: str, request_id: str) -> None:
        document = {
            "message": message,
            "connectionId": session.info.connection_id,
            "requestId": request_id,
        }
        await self.send(session, json.dumps(document))

    async def _on_message(self, session: Session, message: str | bytes) -> None:
        epoch = now_ms()
        request_id = new_request_id()
        route_key = self._selector.select(message)
        if route_key is None:
            await self._fail(session, "Forbidden", request_id)
            return
        route = self.api.routes[route_key]
        info = session.info
        event = message_event(info, route_key, message, request_id, new_request_id(), epoch)
        outcome = await self._integrations.invoke_route(route, event, request_id)
        if outcome.error is not None:
            await self._fail(session, _integration_failure(outcome.error), request_id)
            return
        if not route.two_way:
            return
        reply = proxy_body(outcome.result)
        if reply is not None:
            await self.send(session, reply)

    async def send(self, session: Session, data: str | bytes) -> bool:
        """Send a frame; False when the connection is closed. Sending keeps it active."""
        try:
            await session.ws.send(data)
        except ConnectionClosed:
            return False
        session.last_active_ms = now_ms()
        return True

    async def _on_disconnect(self, session: Session, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        if route is None or route.integration_id is None:
            return
        if not self._keep_disconnect(session.info.connection_id):
            return  # lost, as API Gateway's best-effort $disconnect sometimes is
        request_id = new_request_id()
        event = disconnect_event(session.info, code, reason, request_id, now_ms())
        await self._integrations.invoke_route(route, event, request_id)
