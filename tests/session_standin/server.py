"""A stand-in for the whole stack in the clients' tests: a websockets server that plays API
Gateway with the connection handler (token checks, ``pong``, ``token_expired``, the 2-hour
limit made short) in front of ``StandInBackend`` (the protocol's backend side), and an HTTP
control port with the endpoints the real stack has for the same jobs:

- ``POST /_wslocal/faults/drop`` ``{"connectionId"}``, ``{"sessionId"}`` or ``{}``: drop those
  connections as a network does (no close frame), as the local gateway's fault endpoint;
- ``POST /api/push/session/{sessionId}`` (a JSON object): number it and send it to the
  session, as the reference backend's push.

So a test written against its URLs runs against the local stack too. It runs on its own
event loop thread; the methods below are called from the test's thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol
from werkzeug.wrappers import Request as HttpRequest
from werkzeug.wrappers import Response as HttpResponse

from session_standin.stream import StandInBackend, encode
from ws_bridge_client.protocol import token_exp
from wslocal.http_server import LocalServer


def _claims(token: str | None) -> dict[str, Any]:
    """A JWT's claims, read without verification (the stand-in trusts any signature)."""
    try:
        payload = (token or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass
class Faults:
    """How the stand-in misbehaves; tests change these while it runs."""

    reject_status: int | None = None  # refuse every handshake with this status
    leeway: float = 30.0  # the authorizer accepts a token until exp + leeway
    enforce_expiry: bool = True  # the handler refuses a message at or after exp
    max_duration: float | None = None  # close each connection after this long (1001)
    silent: bool = False  # take frames and answer none (a peer that stopped answering)


@dataclass
class Handshake:
    at: float
    token: str | None
    status: int


@dataclass
class _Conn:
    ws: ServerConnection
    session_id: str
    exp: float | None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class StandInServer:
    """The stand-in stack; a connection's session is its token's ``sessionId`` claim, else
    the ``sessionId`` query parameter, else ``s``."""

    def __init__(self, backend: StandInBackend | None = None, faults: Faults | None = None) -> None:
        self.backend = backend or StandInBackend()
        self.faults = faults or Faults()
        self.handshakes: list[Handshake] = []
        self.frames: list[tuple[str, str]] = []  # (connection id, text) in arrival order
        self.connections: dict[str, _Conn] = {}
        self._pending: dict[ServerConnection, tuple[str, str | None]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Server | None = None
        self._control: LocalServer | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> StandInServer:
        self._thread.start()
        self._server = self.call(self._serve())
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._control = LocalServer(self._http, name="stand-in-control").start()
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()
        if self._server is not None:
            self.call(self._close(self._server))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @staticmethod
    async def _close(server: Server) -> None:
        server.close()  # on the loop: Server.close is not thread-safe
        await server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/local"

    @property
    def control_url(self) -> str:
        """Where the faults and push endpoints are (the gateway's and backend's, locally)."""
        assert self._control is not None
        return self._control.url

    def call[T](self, coroutine: Awaitable[T], timeout: float = 30) -> T:
        async def run() -> T:
            return await coroutine

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=timeout)

    # -- what tests do ---------------------------------------------------------------------

    def push(self, session_id: str, message: dict[str, Any], *, send: bool = True) -> int:
        return self.call(self.backend.push(session_id, message, send=send))

    def send_raw(self, frame: dict[str, Any], session_id: str | None = None) -> None:
        """Send an unnumbered frame to the session's connections (to every one: None)."""

        async def send() -> None:
            for conn in list(self.connections.values()):
                if session_id is None or conn.session_id == session_id:
                    with contextlib.suppress(ConnectionClosed):
                        await conn.ws.send(encode(frame))

        self.call(send())

    def drop(self, connection_id: str | None = None, session_id: str | None = None) -> list[str]:
        """Cut connections as a network does: the socket aborted, no close frame."""

        async def drop() -> list[str]:
            dropped = []
            for cid, conn in list(self.connections.items()):
                if connection_id in (None, cid) and session_id in (None, conn.session_id):
                    conn.ws.transport.abort()
                    dropped.append(cid)
            return dropped

        return self.call(drop())

    def received(self, request_id: str) -> int:
        return self.backend.received[request_id]

    def executed(self, request_id: str) -> int:
        return self.backend.executed[request_id]

    # -- the data plane --------------------------------------------------------------------

    async def _serve(self) -> Server:
        return await serve(
            self._connection,
            "127.0.0.1",
            0,
            process_request=self._handshake,
            select_subprotocol=self._subprotocol,
            ping_interval=None,
            max_size=2**20,
        )

    @staticmethod
    def _subprotocol(_ws: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        return Subprotocol("bearer") if offered and offered[0] == "bearer" else None

    def _handshake(self, ws: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        token = (query.get("token") or [None])[0]
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if token is None and len(offered) == 2 and offered[0] == "bearer":
            token = offered[1]
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if token is None and scheme == "Bearer" and bearer:
            token = bearer
        exp = token_exp(token)
        status = self.faults.reject_status
        if status is None and (
            not token or (exp is not None and time.time() > exp + self.faults.leeway)
        ):
            status = 401  # as the authorizer: no token, or past exp and its leeway
        self.handshakes.append(Handshake(time.time(), token, status or 101))
        if status is not None:
            return ws.respond(HTTPStatus(status), "refused\n")
        # The session: the token's sessionId claim, else the query's, else "s".
        session = _claims(token).get("sessionId") or (query.get("sessionId") or ["s"])[0]
        self._pending[ws] = (str(session), token)
        return None

    async def _connection(self, ws: ServerConnection) -> None:
        session_id, token = self._pending.pop(ws)
        cid = uuid.uuid4().hex[:12]
        conn = _Conn(ws, session_id, token_exp(token))
        self.connections[cid] = conn

        async def send(text: str) -> bool:
            try:
                await ws.send(text)
            except ConnectionClosed:
                return False
            return True

        self.backend.attach(session_id, cid, send)
        limit = self.faults.max_duration
        timer = self._loop.call_later(limit, self._expire, ws) if limit else None
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode(errors="replace")
                self.frames.append((cid, text))
                if not await self._message(cid, conn, text):
                    break
        except ConnectionClosed:
            pass
        finally:
            if timer is not None:
                timer.cancel()
            self.backend.detach(session_id, cid)
            self.connections.pop(cid, None)

    def _expire(self, ws: ServerConnection) -> None:
        self._loop.create_task(ws.close(1001, "Going away"))

    async def _message(self, cid: str, conn: _Conn, text: str) -> bool:
        """As the connection handler: pong, token_expired (then close), or the backend."""
        if self.faults.silent:
            return True
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        rid = frame.get("id") if isinstance(frame, dict) else None
        expired = self.faults.enforce_expiry and conn.exp is not None and time.time() >= conn.exp
        if expired:
            refusal: dict[str, Any] = {"type": "error", "error": "token_expired"}
            if isinstance(rid, str):
                refusal["id"] = rid
            await conn.ws.send(encode(refusal))
            await conn.ws.close(1000, "")
            return False
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await conn.ws.send(encode({"type": "pong", "timestamp": int(time.time() * 1000)}))
        elif isinstance(frame, dict) and isinstance(rid, str):
            task = self._loop.create_task(self.backend.handle(conn.session_id, cid, frame))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)
        else:
            await conn.ws.send(encode({"type": "error", "error": "not_an_object"}))
        return True

    # -- the control port ------------------------------------------------------------------

    @HttpRequest.application  # type: ignore[misc]
    def _http(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        if request.method != "POST" or not isinstance(body, dict):
            return HttpResponse('{"error":"POST a JSON object"}', 400, mimetype="application/json")
        if request.path == "/_wslocal/faults/drop":
            dropped = self.drop(body.get("connectionId"), body.get("sessionId"))
            return HttpResponse(json.dumps({"dropped": dropped}), mimetype="application/json")
        prefix = "/api/push/session/"
        if request.path.startswith(prefix):
            seq = self.push(request.path[len(prefix) :], body)
            return HttpResponse(json.dumps({"sent": 1, "seq": seq}), mimetype="application/json")
        return HttpResponse('{"error":"not found"}', 404, mimetype="application/json")
