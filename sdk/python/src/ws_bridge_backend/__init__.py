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

The core (all but ``registry`` and ``push``) needs the standard library only. The names
below are importable from the package itself; each is loaded when first used, so importing
the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BridgeCall",
    "BridgePaths",
    "MemoryReplayStore",
    "RedisReplayStore",
    "RequestVerifier",
    "SecretsManagerKeys",
    "SignatureError",
    "StaticKeys",
    "__version__",
]

__version__ = "0.1.0"

_EXPORTS = {
    "BridgeCall": "calls",
    "BridgePaths": "calls",
    "MemoryReplayStore": "replay",
    "RedisReplayStore": "replay",
    "RequestVerifier": "verifier",
    "SecretsManagerKeys": "keys",
    "SignatureError": "verifier",
    "StaticKeys": "keys",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ws_bridge_backend' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ws_bridge_backend.{module}"), name)
