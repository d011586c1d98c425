"""ASGI middleware: every request verified before the app sees it (Starlette, FastAPI, any
ASGI app on asyncio).

    from ws_bridge_backend.asgi import BridgeMiddleware, bridge_call

    app = Starlette(routes=[...], middleware=[Middleware(BridgeMiddleware, verifier=verifier)])
    # FastAPI: app.add_middleware(BridgeMiddleware, verifier=verifier)

    async def message(request):
        call = bridge_call(request)   # BridgeCall: kind, identity, body, signed headers
        # FastAPI: def endpoint(call: BridgeCall = Depends(bridge_call))

The raw path the signature covers is the server's ``scope["raw_path"]`` (uvicorn,
hypercorn, daphne): ``scope["path"]`` is decoded, so a session id with ``@`` would not
verify from it. Verification runs in a small thread pool of its own, since a key re-read
(Secrets Manager) or the Redis replay store blocks. The body is read once and replayed to
the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any
from urllib.parse import quote

from ws_bridge_backend.calls import (
    DEFAULT_MAX_BODY_BYTES,
    BridgeCall,
    BridgeGate,
    BridgePaths,
    Refusal,
)
from ws_bridge_backend.verifier import RequestVerifier

__all__ = ["SCOPE_KEY", "BridgeMiddleware", "bridge_call", "raw_path"]

SCOPE_KEY = "ws_bridge.call"

type Scope = MutableMapping[str, Any]
type Message = MutableMapping[str, Any]
type Receive = Callable[[], Awaitable[Message]]
type Send = Callable[[Message], Awaitable[None]]
type ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def raw_path(scope: Scope) -> str:
    """The request target's path as the client sent it, without the query string."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.split(b"?", 1)[0].decode("latin-1")
    decoded = str(scope.get("root_path", "")) + str(scope.get("path", ""))
    return quote(decoded.encode("utf-8"), safe="/")


def bridge_call(request: Any) -> BridgeCall:
    """The verified call of a request (a Starlette/FastAPI ``Request`` or an ASGI scope);
    ``LookupError`` for a request that is none of the handler's three calls."""
    scope = getattr(request, "scope", request)
    call = scope.get(SCOPE_KEY) if isinstance(scope, MutableMapping) else None
    if not isinstance(call, BridgeCall):
        raise LookupError("this request is not one of the handler's calls")
    return call


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


class BridgeMiddleware:
    """``app`` behind :class:`~ws_bridge_backend.calls.BridgeGate`: refused requests get
    401 (bad signature), 400 (not a call), 413 (body too large), 500/503 (no key, no replay
    store) with a JSON body; the rest reach ``app`` with ``scope["ws_bridge.call"]``
    (:func:`bridge_call`). Lifespan events pass through; WebSocket scopes are refused."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: RequestVerifier,
        *,
        paths: BridgePaths | None = None,
        unsigned_paths: Collection[str] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        verify_threads: int = 8,
    ) -> None:
        self.app = app
        self.gate = BridgeGate(
            verifier, paths=paths, unsigned_paths=unsigned_paths, max_body_bytes=max_body_bytes
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=verify_threads, thread_name_prefix="ws-bridge-verify"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = raw_path(scope)
        if self.gate.is_unsigned(path):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
            loop = asyncio.get_running_loop()
            call = await loop.run_in_executor(
                self._executor, self.gate.check, str(scope["method"]), path, _headers(scope), body
            )
        except Refusal as refusal:
            await _refuse(refusal, send)
            return
        except _Disconnected:
            return
        inner = dict(scope)
        inner[SCOPE_KEY] = call
        await self.app(inner, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes:
        limit = self.gate.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                raise Refusal(413, "too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _Disconnected(Exception):
    """The client went away while its body was read."""


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


async def _refuse(refusal: Refusal, send: Send) -> None:
    body = refusal.body()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
