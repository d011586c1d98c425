"""The app: the three calls of the connection handler, each verified by the SDK's ASGI
middleware before a route sees it.

``validate``   membership of the session (the store, or a callback of yours passed to
               ``create_app`` as ``CallbackMembership(fn)``): 200, 403, 404
``message``    through the SDK's session layer (docs/design.md, "Session protocol"): a
               client's ``resume`` is answered from the session's stream, each request id
               runs once, every reply is numbered and reaches every connection of the
               session. ``whoami`` → ``identity`` (who the handler says is talking);
               ``chat`` → pushed (numbered) to every connection of the session, then
               ``chat_ack`` (``delivered``: how many got it); any other type → the error
               reply ``unknown_type``
``disconnect`` 200

There is no other route: an unsigned request gets 401 from the middleware, whatever its path
(App Runner checks the instance's health over TCP). Run it with uvicorn::

    uvicorn --factory example_app.main:from_env --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from example_app.settings import Settings
from example_app.store import Membership, RedisMembership, redis_client
from ws_bridge_backend.asgi import BridgeMiddleware, bridge_call
from ws_bridge_backend.calls import BridgeCall, BridgePaths
from ws_bridge_backend.delivery import PusherDelivery
from ws_bridge_backend.idempotency import RedisRequestLedger
from ws_bridge_backend.keys import SecretsManagerKeys
from ws_bridge_backend.push import Pusher
from ws_bridge_backend.registry import ConnectionRegistry
from ws_bridge_backend.replay import RedisReplayStore
from ws_bridge_backend.sessions import SessionError, SessionLayer
from ws_bridge_backend.stream import RedisStream
from ws_bridge_backend.verifier import RequestVerifier

__all__ = ["create_app", "from_env"]

log = logging.getLogger("example_app")

MAX_CHAT_CHARACTERS = 2000


def _error(status: int, code: str, text: str = "") -> JSONResponse:
    body: dict[str, Any] = {"type": "error", "error": code, "message": text or code}
    return JSONResponse(body, status_code=status)


def create_app(
    verifier: RequestVerifier,
    membership: Membership,
    layer: SessionLayer,
    *,
    paths: BridgePaths | None = None,
) -> Starlette:
    """The app around ``verifier`` (every request), ``membership`` (validate) and ``layer``
    (messages, and the pushes of chats, through the session protocol)."""
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

    def on_message(call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        """One request, run once per id by the layer (in a thread: a push blocks)."""
        kind = message.get("type")
        if kind == "whoami":
            return {
                "type": "identity",
                "userId": call.user_id,
                "sessionId": call.session_id,
                "connectionId": call.connection_id,
            }
        if kind == "chat":
            text = message.get("text")
            if not isinstance(text, str) or not 0 < len(text) <= MAX_CHAT_CHARACTERS:
                raise SessionError("invalid_chat", "text: 1 to 2000 characters")
            notice = {"type": "chat", "from": call.user_id, "sessionId": call.session_id}
            pushed = layer.push(call.session_id, {**notice, "text": text})
            return {"type": "chat_ack", "delivered": pushed.result.sent if pushed.result else 0}
        raise SessionError("unknown_type", "type must be whoami or chat")

    async def message(request: Request) -> Response:
        answer = await layer.handle_async(bridge_call(request), on_message)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

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
    # Streams and request ids in the session store too: every instance numbers one stream
    # per session, and a request resent to another instance runs nowhere again.
    layer = SessionLayer(RedisStream(client), RedisRequestLedger(client), PusherDelivery(pusher))
    paths = BridgePaths(settings.validate_path, settings.message_path, settings.disconnect_path)
    return create_app(RequestVerifier(keys, replay=replay), membership, layer, paths=paths)
