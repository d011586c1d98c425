"""Where a verifier gets its keys: a provider that hands out the keys to accept now, and that
may re-read them after a signature matched none of them.

- :class:`StaticKeys`: fixed keys, checked once.
- :class:`CallableKeys`: a function of yours, asked on every request; what it returns is
  checked every time (``lambda: [b""]`` is refused, not trusted).
- :class:`SecretsManagerKeys`: the secret's AWSCURRENT and AWSPREVIOUS versions (both valid
  during a rotation), re-read every ``ttl_seconds`` and, at most once per
  ``mismatch_refresh_seconds``, after a signature that matches no key. boto3 (the ``aws``
  extra) is imported only when this provider is built.

Every key is checked wherever it comes from (:func:`ws_bridge_backend.signing.check_key`):
not bytes, empty or shorter than 32 bytes, or an empty list, raises
:class:`~ws_bridge_backend.signing.InvalidKeyError`.

Rotation: the connection handler re-reads its key every ``BACKEND_SIGNING_KEY_REFRESH_SECONDS``
(Terraform ``backend.request_signing.key_refresh_seconds``) and signs with a new AWSCURRENT
only once it is that old, AWSPREVIOUS until then. A provider whose ``ttl_seconds`` is at most
that setting has therefore always read a key before the first request signed with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from ws_bridge_backend.signing import InvalidKeyError, check_keys, key_from_secret

__all__ = [
    "CallableKeys",
    "KeyProvider",
    "SecretsManagerKeys",
    "StaticKeys",
    "as_provider",
]

log = logging.getLogger("ws_bridge_backend.keys")


class KeyProvider(Protocol):
    """What a verifier asks for its keys."""

    def current(self) -> Sequence[bytes]:
        """The keys to accept now, each checked; ``InvalidKeyError`` when there are none
        to use."""
        ...

    def refresh_after_mismatch(self) -> bool:
        """A signature matched no key: re-read the keys if that is allowed now. True when
        they were re-read (the verifier then tries once more)."""
        ...


class StaticKeys:
    """Fixed keys (a rotation means a restart with both keys)."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self._keys = check_keys(keys)

    def current(self) -> Sequence[bytes]:
        return self._keys

    def refresh_after_mismatch(self) -> bool:
        return False


class CallableKeys:
    """Keys from ``source()``, asked on every request and checked every time."""

    def __init__(self, source: Callable[[], Iterable[bytes]]) -> None:
        self._source = source

    def current(self) -> Sequence[bytes]:
        return check_keys(self._source())

    def refresh_after_mismatch(self) -> bool:
        return False


def as_provider(
    keys: KeyProvider | Iterable[bytes] | Callable[[], Iterable[bytes]],
) -> KeyProvider:
    """A provider for what a verifier was given: a provider as it is, a callable as
    :class:`CallableKeys`, anything else as :class:`StaticKeys`."""
    if hasattr(keys, "current") and hasattr(keys, "refresh_after_mismatch"):
        provider: KeyProvider = keys  # type: ignore[assignment]
        return provider
    if callable(keys):
        return CallableKeys(keys)
    if isinstance(keys, bytes | str):
        raise InvalidKeyError("pass a list of keys, not one key")
    return StaticKeys(keys)


class SecretsManagerKeys:
    """AWSCURRENT and AWSPREVIOUS of a Secrets Manager secret, cached.

    Read when built (a wrong ARN or a missing permission fails at start), then again once
    ``ttl_seconds`` have passed (the request that finds them expired waits for the read),
    and after a signature that matched no key, at most once per
    ``mismatch_refresh_seconds`` (forged requests cannot turn into Secrets Manager calls).
    A failed re-read keeps the last good keys and is tried again ``retry_seconds`` later.
    A version whose value is not a usable key is left out (with an ERROR log line); when
    AWSCURRENT is such a version, the read fails.
    """

    def __init__(
        self,
        secret_id: str,
        *,
        ttl_seconds: float = 300.0,
        mismatch_refresh_seconds: float = 5.0,
        retry_seconds: float = 5.0,
        client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or mismatch_refresh_seconds < 0 or retry_seconds <= 0:
            raise ValueError("ttl_seconds and retry_seconds must be positive")
        self.secret_id = secret_id
        self._ttl = ttl_seconds
        self._mismatch = mismatch_refresh_seconds
        self._retry = retry_seconds
        self._clock = clock
        self._client = client if client is not None else _secretsmanager()
        self._lock = threading.Lock()
        self._keys: tuple[bytes, ...] = ()
        self._next_read = 0.0
        self._last_attempt = float("-inf")
        with self._lock:
            self._read(self._clock(), raise_errors=True)

    def current(self) -> Sequence[bytes]:
        if self._clock() >= self._next_read:
            with self._lock:  # one read at a time; the others wait for its keys
                now = self._clock()
                if now >= self._next_read:
                    self._read(now, raise_errors=False)
        return self._keys

    def refresh_after_mismatch(self) -> bool:
        with self._lock:
            now = self._clock()
            if now - self._last_attempt < self._mismatch:
                return False
            return self._read(now, raise_errors=False)

    def _read(self, now: float, *, raise_errors: bool) -> bool:
        """Read both versions; True when the keys were replaced. Called under the lock."""
        self._last_attempt = now
        try:
            keys = self._fetch()
        except Exception as exc:
            self._next_read = now + self._retry
            if raise_errors:
                raise
            log.warning(
                "signing keys not re-read, the last ones stay in use",
                extra={"secretId": self.secret_id, "error": type(exc).__name__},
            )
            return False
        self._keys = keys
        self._next_read = now + self._ttl
        return True

    def _fetch(self) -> tuple[bytes, ...]:
        from botocore.exceptions import ClientError

        try:
            current = key_from_secret(self._client.get_secret_value(SecretId=self.secret_id))
        except InvalidKeyError as exc:
            log.error(
                "the secret's AWSCURRENT is not a usable signing key",
                extra={"secretId": self.secret_id, "reason": str(exc)},
            )
            raise
        keys = [current]
        try:
            answer = self._client.get_secret_value(
                SecretId=self.secret_id, VersionStage="AWSPREVIOUS"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return tuple(keys)  # never rotated: there is no previous version
        try:
            keys.append(key_from_secret(answer))
        except InvalidKeyError as exc:
            log.error(
                "the secret's AWSPREVIOUS is not a usable signing key: left out",
                extra={"secretId": self.secret_id, "reason": str(exc)},
            )
        return check_keys(keys)


def _secretsmanager() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=2
    )
    return boto3.client("secretsmanager", config=config)
