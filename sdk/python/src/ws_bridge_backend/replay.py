"""Replay stores: where a verifier remembers the nonces of the requests it accepted.

A signed request carries its timestamp and nonce, both covered by the signature, and is
accepted only within ``window`` seconds of the verifier's clock. So a nonce needs keeping
until its own ``timestamp + window``, and no longer: past that, the request is stale anyway.

- :class:`MemoryReplayStore`: one process. Nonces are kept in buckets by timestamp, a bucket
  dropped as a whole once its timestamp has left the window. Memory follows the request
  rate (about ``rate x window`` nonces at once, about 80 bytes each as measured by ``make
  bench-replay``), with no count that could fill up and refuse requests. Past what one
  process should hold, use the shared store.
- :class:`RedisReplayStore`: one Redis (or Valkey) shared by every instance of the backend,
  ``SET key 1 NX EX ttl``: a request replayed to another instance is refused there too.
  redis-py (the ``redis`` extra) is needed only for this one.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol

__all__ = ["MemoryReplayStore", "RedisReplayStore", "ReplayStore", "ReplayStoreUnavailableError"]


class ReplayStoreUnavailableError(Exception):
    """The store could not be asked (Redis unreachable): the request is refused as a fault
    of the service (503), never accepted unchecked."""


class ReplayStore(Protocol):
    def add(self, nonce: str, timestamp: int, expires_at: int, now: float) -> bool:
        """Remember ``nonce`` (of a request signed at ``timestamp``) until ``expires_at``
        (epoch seconds); False when it was already remembered: a replay."""
        ...


class MemoryReplayStore:
    """Nonces of this process, in buckets by signed timestamp; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[int, set[bytes]]] = {}  # timestamp -> (expiry, nonces)
        self._count = 0
        self._next_purge = -math.inf

    def __len__(self) -> int:
        return self._count

    def add(self, nonce: str, timestamp: int, expires_at: int, now: float) -> bool:
        # 16 bytes instead of a 32-character string: half the memory per nonce. A replay
        # repeats the signed timestamp too, so its nonce is looked for in that bucket only.
        key = bytes.fromhex(nonce)
        with self._lock:
            if now >= self._next_purge:
                self._purge(now)
            bucket = self._buckets.get(timestamp)
            if bucket is None:
                bucket = self._buckets[timestamp] = (expires_at, set())
            nonces = bucket[1]
            if key in nonces:
                return False
            nonces.add(key)
            self._count += 1
            return True

    def _purge(self, now: float) -> None:
        """Drop the buckets whose nonces have expired; at most once a second."""
        expired = [ts for ts, (expiry, _) in self._buckets.items() if expiry < now]
        for timestamp in expired:
            self._count -= len(self._buckets.pop(timestamp)[1])
        self._next_purge = now + 1.0


class RedisReplayStore:
    """Nonces in Redis, shared by every backend instance: ``SET <prefix><nonce> 1 NX EX ttl``.

    ``client``: a ``redis.Redis`` (its own timeouts apply; a few seconds at most is wise).
    A Redis error raises :class:`ReplayStoreUnavailableError`.
    """

    def __init__(self, client: Any, *, prefix: str = "ws-bridge:nonce:") -> None:
        import redis  # the redis extra

        self._client = client
        self._prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisReplayStore:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, **options)
        return cls(client)

    def add(self, nonce: str, timestamp: int, expires_at: int, now: float) -> bool:
        ttl = max(1, math.ceil(expires_at - now))
        try:
            stored = self._client.set(f"{self._prefix}{nonce}", b"1", nx=True, ex=ttl)
        except self._errors as exc:
            raise ReplayStoreUnavailableError(f"redis: {type(exc).__name__}") from exc
        return bool(stored)
