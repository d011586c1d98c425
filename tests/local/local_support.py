"""Helpers for the tests of the local stack's backend and client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import urllib3
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wslocal.http_server import LocalServer
from wslocal.reference_backend import Backend

SECRET = "local-stack-test-secret-0123456789abcdef"
Mint = Callable[..., str]


@dataclass
class BackendHandle:
    server: LocalServer
    backend: Backend
    http: urllib3.PoolManager

    @property
    def url(self) -> str:
        return self.server.url

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        return self.http.request(
            method, self.url + path, body=data, headers=headers or {}, retries=False, timeout=10
        )

    def message(self, body: Any, connection_id: str = "conn-1") -> urllib3.BaseHTTPResponse:
        return self.request(
            "POST",
            "/api/ws/message",
            body=body,
            headers={"Content-Type": "application/json", "X-Connection-Id": connection_id},
        )

    def validate(
        self, session_id: str, user: str, connection_id: str = "conn-1"
    ) -> urllib3.BaseHTTPResponse:
        """The handler's validate call for ``user`` (unsigned: the test backend trusts it)."""
        identity = {
            "connectionId": connection_id,
            "sessionId": session_id,
            "userId": user,
            "sessionSource": "query",
            "tokenExpiresAt": None,
        }
        return self.request(
            "POST",
            f"/api/labs/session/{quote(session_id, safe='')}/validate",
            body=identity,
            headers={"Content-Type": "application/json", "X-Connection-Id": connection_id},
        )


BackendFactory = Callable[..., BackendHandle]


# -- a tiny WebSocket server for the client's tests --------------------------------------------


@dataclass
class WsBehaviour:
    """What the test server does. Handshakes are counted whatever the outcome."""

    reject_status: int | None = None
    drop_first: int = 0  # abort (no close frame: 1006) the first N accepted connections
    drop_after: float = 0.0  # ...this many seconds after they were accepted
    close_code: int | None = None  # close every accepted connection with this code at once
    expire_first: int = 0  # the first N connections answer token_expired to a message, close
    handshakes: int = 0
    accepted: int = 0
    received: list[tuple[int, str]] = field(default_factory=list)  # (connection number, text)
    paths: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    protocols: list[str | None] = field(default_factory=list)


class WsServer:
    """A websockets server on its own event loop thread: echoes, answers pings, misbehaves."""

    def __init__(self, behaviour: WsBehaviour) -> None:
        self.behaviour = behaviour
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Server | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        self._server = self.call(self._serve())
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    def call[T](self, coro: Awaitable[T]) -> T:
        async def run() -> T:
            return await coro

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/local"

    async def _serve(self) -> Server:
        return await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            ping_interval=None,
        )

    @staticmethod
    def _select_subprotocol(
        connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return Subprotocol("bearer") if "bearer" in subprotocols else None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        behaviour = self.behaviour
        behaviour.handshakes += 1
        behaviour.paths.append(request.path)
        behaviour.authorization.append(request.headers.get("Authorization"))
        behaviour.protocols.append(request.headers.get("Sec-WebSocket-Protocol"))
        if behaviour.reject_status is not None:
            return connection.respond(HTTPStatus(behaviour.reject_status), "rejected\n")
        return None

    async def _handler(self, connection: ServerConnection) -> None:
        behaviour = self.behaviour
        behaviour.accepted += 1
        number = behaviour.accepted
        if number <= behaviour.drop_first:
            await asyncio.sleep(behaviour.drop_after)
            connection.transport.abort()
            return
        if behaviour.close_code is not None:
            await connection.close(behaviour.close_code, "closing")
            return
        async for message in connection:
            text = message if isinstance(message, str) else message.decode()
            behaviour.received.append((number, text))
            if number <= behaviour.expire_first:  # as the handler: say why, then close
                await connection.send(json.dumps({"type": "error", "error": "token_expired"}))
                await connection.close(1000, "")
                return
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict) and value.get("type") == "ping":
                await connection.send(json.dumps({"type": "pong"}))
            else:
                await connection.send(json.dumps({"type": "echo", "text": text}))

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
