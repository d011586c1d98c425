"""ws_bridge_backend: the backend side of apigw-websocket-bridge.

One module per job:

- ``signing``   the signature's canonical form, signing, the key checks (the handler signs
                with this module too)
- ``keys``      key providers: fixed, a callable, Secrets Manager (AWSCURRENT + AWSPREVIOUS,
                re-read on a TTL and after a signature that matches no key)
- ``replay``    replay stores: in memory (bounded by the request rate), Redis (shared)
- ``verifier``  ``RequestVerifier``: checks a request's signature
- ``calls``     the handler's three calls as typed objects, and the gate the glue uses
- ``wsgi``, ``asgi``  middleware for Flask/Django and Starlette/FastAPI
- ``registry``  reading the connections table (``aws`` extra: boto3)
- ``push``      pushing to a session's or a user's connections (``aws`` extra: boto3)
- ``connections_api``  push's ``PostToConnection``: SigV4 and the boto3 client's pool,
                without botocore's per-call pipeline (``aws`` extra)

The session protocol's backend side (docs/design.md, "Session protocol"):

- ``frames``       its limits, request ids, frames and how they are numbered
- ``stream``       session streams: numbered frames kept for resumes (memory, Redis)
- ``idempotency``  each request id run once within a window (memory, Redis)
- ``chunks``       messages too large for one frame, as numbered chunks
- ``sessions``     ``SessionLayer``: a message call through the protocol (resume, run once,
                   number, share), and pushes of the backend's own
- ``delivery``     the layer's fan-out through ``push`` (``aws`` extra)
- ``control``      kicks (``kicked``, then the close) and ``rotate`` (``aws`` extra)

The core (all but ``registry``, ``push``, ``connections_api``, ``delivery`` and ``control``)
needs the standard library only (Redis stores: the ``redis`` extra). The names below are
importable from the package itself; each is loaded when first used, so importing the
package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BridgeCall",
    "BridgePaths",
    "IdempotencySettings",
    "MemoryReplayStore",
    "MemoryRequestLedger",
    "MemoryStream",
    "PusherDelivery",
    "RedisReplayStore",
    "RedisRequestLedger",
    "RedisStream",
    "RequestVerifier",
    "SecretsManagerKeys",
    "SessionControl",
    "SessionError",
    "SessionLayer",
    "SignatureError",
    "StaticKeys",
    "StreamSettings",
    "__version__",
]

__version__ = "0.1.0"

_EXPORTS = {
    "BridgeCall": "calls",
    "BridgePaths": "calls",
    "IdempotencySettings": "idempotency",
    "MemoryReplayStore": "replay",
    "MemoryRequestLedger": "idempotency",
    "MemoryStream": "stream",
    "PusherDelivery": "delivery",
    "RedisReplayStore": "replay",
    "RedisRequestLedger": "idempotency",
    "RedisStream": "stream",
    "RequestVerifier": "verifier",
    "SecretsManagerKeys": "keys",
    "SessionControl": "control",
    "SessionError": "sessions",
    "SessionLayer": "sessions",
    "SignatureError": "verifier",
    "StaticKeys": "keys",
    "StreamSettings": "stream",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ws_bridge_backend' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ws_bridge_backend.{module}"), name)
