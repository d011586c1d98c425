"""The reference backend's AWS side, all through the backend SDK: the handler's signature
checked with the secret's current and previous keys (re-read on a TTL), the session layer's
stores (Redis when given) and its fan-out, kicks and rotations through ``@connections``, and
the backend role's temporary credentials."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ws_bridge_backend.calls import BridgeGate
from ws_bridge_backend.delivery import Delivery
from ws_bridge_backend.idempotency import MemoryRequestLedger, RedisRequestLedger
from ws_bridge_backend.keys import SecretsManagerKeys
from ws_bridge_backend.sessions import SessionLayer
from ws_bridge_backend.stream import MemoryStream, RedisStream
from ws_bridge_backend.verifier import RequestVerifier
from wslocal.role_credentials import assume_backend_role

if TYPE_CHECKING:
    from ws_bridge_backend.push import Pusher

__all__ = ["assume_backend_role", "sdk_pusher", "session_layer", "signing_gate"]

LOGGER = logging.getLogger("wslocal.reference_backend")


def signing_gate(secret_arn: str, ttl_seconds: float = 300.0) -> BridgeGate:
    """The SDK's gate with the secret's AWSCURRENT and AWSPREVIOUS keys, re-read every
    ``ttl_seconds`` (and after a signature no key matches)."""
    return BridgeGate(RequestVerifier(SecretsManagerKeys(secret_arn, ttl_seconds=ttl_seconds)))


def sdk_pusher(table_name: str, callback_url: str) -> Pusher:
    """The SDK's ``Pusher``: DynamoDB from ``AWS_ENDPOINT_URL``; ``@connections`` calls to
    ``callback_url`` (the stage URL, ``http://127.0.0.1:M/STAGE`` locally)."""
    from ws_bridge_backend.push import Pusher
    from ws_bridge_backend.registry import ConnectionRegistry

    return Pusher(ConnectionRegistry(table_name), callback_url)


def session_layer(redis_url: str | None, delivery: Delivery | None) -> SessionLayer:
    """The SDK's session layer: streams and request ids in the Redis at ``redis_url``
    (shared by every backend process on it, kept across restarts), else in memory."""
    if not redis_url:
        return SessionLayer(MemoryStream(), MemoryRequestLedger(), delivery)
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    return SessionLayer(RedisStream(client), RedisRequestLedger(client), delivery)
