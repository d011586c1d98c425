"""The connection handler's request-signing key: read from Secrets Manager, cached, and
switched to a new version only once verifiers have had time to read it.

Signing itself is ``ws_bridge_backend.signing`` (the backend SDK's module, shipped in this
package), so the handler and every verifier read one definition of the signature.

Rotation (``aws secretsmanager put-secret-value``): the key is re-read every
``refresh_seconds`` (``BACKEND_SIGNING_KEY_REFRESH_SECONDS``), and a new AWSCURRENT is used
only once it is ``refresh_seconds`` (plus a second of margin) old, by its ``CreatedDate``;
until then the handler keeps signing with AWSPREVIOUS. A verifier that re-reads both
versions at least that often (``ws_bridge_backend.keys.SecretsManagerKeys(ttl_seconds=...)``)
has therefore always read a key before the first request signed with it: a rotation refuses
nothing.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ws_bridge_backend.signing import InvalidKeyError, key_from_secret

__all__ = [
    "ACTIVATION_MARGIN_SECONDS",
    "KEY_RETRY_SECONDS",
    "SigningKey",
    "SigningKeyUnavailableError",
]

# A new version is used this much later still: Secrets Manager's CreatedDate may be given to
# the second, and clocks differ by a little.
ACTIVATION_MARGIN_SECONDS = 1.0
# After a failed read, the next attempt waits this long (each request would otherwise add a
# Secrets Manager call, with its retries, to its own latency during an outage).
KEY_RETRY_SECONDS = 5.0


class SigningKeyUnavailableError(Exception):
    """The signing key could not be read (the request must not be sent unsigned)."""


def _created(answer: Mapping[str, Any]) -> float | None:
    created = answer.get("CreatedDate")
    return created.timestamp() if isinstance(created, datetime.datetime) else None


class SigningKey:
    """AWSCURRENT (or AWSPREVIOUS while AWSCURRENT is younger than ``refresh_seconds``),
    read on first use and again every ``refresh_seconds``. A failed re-read keeps the last
    good keys (and tries again after ``retry_seconds``); without any key, or with a key
    shorter than 32 bytes, :class:`SigningKeyUnavailableError` is raised."""

    def __init__(
        self,
        secret_id: str,
        *,
        refresh_seconds: float,
        retry_seconds: float = KEY_RETRY_SECONDS,
        secretsmanager: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.time,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        # `clock` times the re-reads: the wall clock, since a frozen Lambda container's
        # monotonic clock need not advance (ws_bridge.jwt_verifier).
        self._secret_id = secret_id
        self._refresh = refresh_seconds
        self._retry = retry_seconds
        self._secretsmanager = secretsmanager
        self._clock = clock
        self._wall = wall_clock
        # (current, previous or None, when current may be used: epoch seconds)
        self._keys: tuple[bytes, bytes | None, float] | None = None
        self._next_read = 0.0
        self._lock = threading.Lock()

    def _client(self) -> Any:
        if self._secretsmanager is not None:
            return self._secretsmanager()
        from ws_bridge import aws

        return aws.secretsmanager()

    def _read(self) -> tuple[bytes, bytes | None, float]:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            current = client.get_secret_value(SecretId=self._secret_id)
            key = key_from_secret(current)
            created = _created(current)
            active_from = (
                self._wall()
                if created is None
                else created + self._refresh + ACTIVATION_MARGIN_SECONDS
            )
            previous: bytes | None = None
            if self._wall() < active_from:
                try:
                    answer = client.get_secret_value(
                        SecretId=self._secret_id, VersionStage="AWSPREVIOUS"
                    )
                    previous = key_from_secret(answer)
                except (ClientError, InvalidKeyError):
                    previous = None  # never rotated, or no usable previous: the current one
            return key, previous, active_from
        except InvalidKeyError as exc:
            raise SigningKeyUnavailableError(
                f"the signing secret is not a usable key: {exc}"
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            raise SigningKeyUnavailableError(
                f"reading the signing secret failed: {type(exc).__name__}"
            ) from exc

    def get(self) -> bytes:
        with self._lock:
            now = self._clock()
            back = now + max(self._refresh, self._retry) < self._next_read  # the clock went back
            if back:
                self._next_read = now
            if now >= self._next_read or self._keys is None:
                if now < self._next_read:
                    raise SigningKeyUnavailableError("the signing secret could not be read lately")
                try:
                    self._keys = self._read()
                    self._next_read = now + self._refresh
                except SigningKeyUnavailableError:
                    self._next_read = now + self._retry
                    if self._keys is None:
                        raise
            current, previous, active_from = self._keys
        return previous if previous is not None and self._wall() < active_from else current
