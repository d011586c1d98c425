"""The app: the three calls of the connection handler, each verified by the SDK's ASGI
middleware before a route sees it.

``validate``   membership of the session (the store, or a callback of yours passed to
               ``create_app`` as ``CallbackMembership(fn)``): 200, 403, 404
``message``    ``whoami`` → ``identity`` (who the handler says is talking);
               ``chat`` → pushed to every connection of the session, then ``chat_ack``
               (``delivered``: how many got it); any other type → 400 ``unknown_type``
``disconnect`` 200

There is no other route: an unsigned request gets 401 from the middleware, whatever its path
(App Runner checks the instance's health over TCP). Run it with uvicorn::

    uvicorn --factory example_app.main:from_env --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from example_app.settings import Settings
from example_app.store import Membership, RedisMembership, redis_client
from ws_bridge_backend.asgi import BridgeMiddleware, bridge_call
from ws_bridge_backend.calls import BridgePaths
from ws_bridge_backend.keys import SecretsManagerKeys
from ws_bridge_backend.push import Pusher
from ws_bridge_backend.registry import ConnectionRegistry
from ws_bridge_backend.replay import RedisReplayStore
from ws_bridge_backend.verifier import RequestVerifier

__all__ = ["create_app", "from_env"]

log = logging.getLogger("example_app")

MAX_CHAT_CHARACTERS = 2000

type Push = Callable[[str, dict[str, Any]], int]


def _error(status: int, code: str, text: str = "") -> JSONResponse:
    body: dict[str, Any] = {"type": "error", "error": code, "message": text or code}
    return JSONResponse(body, status_code=status)


def create_app(
    verifier: RequestVerifier,
    membership: Membership,
    push: Push,
    *,
    paths: BridgePaths | None = None,
) -> Starlette:
    """The app around ``verifier`` (every request), ``membership`` (validate) and ``push``
    (``push(session_id, message)`` → how many connections got it)."""
    paths = paths or BridgePaths()

    async def validate(request: Request) -> JSONResponse:
        call = bridge_call(request)
        allowed = await run_in_threadpool(membership.allows, call.session_id, call.user_id)
        log.info("validate", extra={"sessionId": call.session_id, "allowed": allowed})
        if allowed is None:
            return _error(404, "unknown_session")
        if not allowed:
            return _error(403, "forbidden", text="this user may not open this session")
        return JSONResponse({"valid": True, "sessionId": call.session_id, "userId": call.user_id})

    async def message(request: Request) -> JSONResponse:
        call = bridge_call(request)
        kind = call.message_type
        if kind == "whoami":
            return JSONResponse(
                {
                    "type": "identity",
                    "userId": call.user_id,
                    "sessionId": call.session_id,
                    "connectionId": call.connection_id,
                }
            )
        if kind == "chat":
            text = call.body.get("text")
            if not isinstance(text, str) or not 0 < len(text) <= MAX_CHAT_CHARACTERS:
                return _error(400, "invalid_chat", text="text: 1 to 2000 characters")
            notice = {
                "type": "chat",
                "from": call.user_id,
                "sessionId": call.session_id,
                "text": text,
            }
            delivered = await run_in_threadpool(push, call.session_id, notice)
            return JSONResponse({"type": "chat_ack", "delivered": delivered})
        return _error(400, "unknown_type", text="type must be whoami or chat")

    async def disconnect(request: Request) -> JSONResponse:
        call = bridge_call(request)
        log.info("disconnected", extra={"connectionId": call.connection_id})
        return JSONResponse({"ok": True})

    routes = [
        Route(paths.validate, validate, methods=["POST"]),
        Route(paths.message, message, methods=["POST"]),
        Route(paths.disconnect, disconnect, methods=["POST"]),
    ]
    middleware = [Middleware(BridgeMiddleware, verifier=verifier, paths=paths)]
    return Starlette(routes=routes, middleware=middleware)


def from_env() -> Starlette:
    """The app as App Runner runs it: every setting from the environment (``Settings``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is required: membership and nonces live in the session store")
    client = redis_client(
        settings.redis_url,
        auth=settings.redis_auth,
        username=settings.redis_username,
        cache_name=settings.redis_cache_name,
        region=settings.region,
    )
    replay = RedisReplayStore(client)  # shared: a request replays on no instance
    membership = RedisMembership(client)
    keys = SecretsManagerKeys(settings.signing_secret_arn, ttl_seconds=settings.key_ttl_seconds)
    pusher = Pusher(ConnectionRegistry(settings.connections_table), settings.callback_url)

    def push(session_id: str, message: dict[str, Any]) -> int:
        result = pusher.to_session(session_id, message)
        return result.sent

    paths = BridgePaths(settings.validate_path, settings.message_path, settings.disconnect_path)
    return create_app(RequestVerifier(keys, replay=replay), membership, push, paths=paths)
