"""The reference backend's AWS side, all through the backend SDK: the handler's signature
checked with the secret's current and previous keys (re-read on a TTL), push through
``@connections``, and the backend role's temporary credentials."""

from __future__ import annotations

import logging

from ws_bridge_backend.calls import BridgeGate
from ws_bridge_backend.keys import SecretsManagerKeys
from ws_bridge_backend.verifier import RequestVerifier
from wslocal.reference_backend.contract import Pusher, PushOutcome
from wslocal.role_credentials import assume_backend_role

__all__ = ["assume_backend_role", "sdk_pusher", "signing_gate"]

LOGGER = logging.getLogger("wslocal.reference_backend")


def signing_gate(secret_arn: str, ttl_seconds: float = 300.0) -> BridgeGate:
    """The SDK's gate with the secret's AWSCURRENT and AWSPREVIOUS keys, re-read every
    ``ttl_seconds`` (and after a signature no key matches)."""
    return BridgeGate(RequestVerifier(SecretsManagerKeys(secret_arn, ttl_seconds=ttl_seconds)))


def sdk_pusher(table_name: str, callback_url: str) -> Pusher:
    """A ``Pusher`` backed by ``ws_bridge_backend.push``: DynamoDB from
    ``AWS_ENDPOINT_URL``; ``@connections`` calls to ``callback_url`` (the stage URL,
    ``http://127.0.0.1:M/STAGE`` locally)."""
    from ws_bridge_backend.push import Pusher as SdkPusher
    from ws_bridge_backend.registry import ConnectionRegistry

    sdk = SdkPusher(ConnectionRegistry(table_name), callback_url)

    def pusher(session_id: str, data: bytes) -> PushOutcome:
        result = sdk.to_session(session_id, data)
        return PushOutcome(
            sent=result.sent, gone=result.gone, failed=result.failed, expired=result.expired
        )

    return pusher
