"""Idempotent requests: each request id runs once within a window, and a repeat gets the
reply as first sent (the same frames, the same seq).

A request is known by its session, its user and its id (``RequestKey``): a client resends
after a reconnect with the same token's user, and another member of the session, who sees
every reply and so every id, cannot take over someone else's next request id.

- ``begin`` says whether the request is new (it is marked running, for
  ``running_seconds``), still running (the caller answers ``pending``) or answered (its
  stored frames);
- ``finish`` stores the reply's frames for ``window_seconds``;
- ``abandon`` forgets a request that failed without a reply, so a resend runs it.

A request still marked running after ``running_seconds`` (its process died) runs again on
the next repeat: keep it above the longest a request may take (API Gateway gives a route
29 s at most).

:class:`MemoryRequestLedger` (one process) and :class:`RedisRequestLedger` (shared: ``GET``
or ``SET PX`` in one script, so two instances never both start a request), whose keys are
``<prefix>{<session>}:<user>/<id>`` (``prefix`` defaults to ``ws-bridge:request:``).
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ws_bridge_backend.stream import SessionStoreError

__all__ = [
    "Begin",
    "IdempotencySettings",
    "MemoryRequestLedger",
    "RedisRequestLedger",
    "RequestKey",
    "RequestLedger",
    "RequestState",
]


@dataclass(frozen=True, slots=True)
class IdempotencySettings:
    """``window_seconds``: how long an answered id is remembered with its reply (longer
    than a client may resend: its reply timeout, 30 s by default); ``running_seconds``: how
    long a request counts as running."""

    window_seconds: float = 300.0
    running_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.running_seconds <= self.window_seconds:
            raise ValueError("need 0 < running_seconds <= window_seconds")


@dataclass(frozen=True, slots=True)
class RequestKey:
    session_id: str
    user_id: str
    request_id: str


class RequestState(enum.Enum):
    NEW = "new"  # never seen: marked running now; the caller runs it
    RUNNING = "running"  # a repeat while the first still runs
    ANSWERED = "answered"  # a repeat after the reply: its frames


@dataclass(frozen=True, slots=True)
class Begin:
    state: RequestState
    frames: tuple[str, ...] = ()


class RequestLedger(Protocol):
    settings: IdempotencySettings

    def begin(self, key: RequestKey) -> Begin: ...

    def finish(self, key: RequestKey, frames: Sequence[str]) -> None: ...

    def abandon(self, key: RequestKey) -> None: ...


class MemoryRequestLedger:
    """Requests of this process; thread-safe. Memory follows the request rate: about
    ``rate x window_seconds`` entries, each holding its reply."""

    def __init__(
        self,
        settings: IdempotencySettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or IdempotencySettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[RequestKey, tuple[float, tuple[str, ...] | None]] = {}
        self._expiries: deque[tuple[float, RequestKey]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, key: RequestKey) -> Begin:
        now = self._clock()
        with self._lock:
            self._purge(now)
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                if entry[1] is None:
                    return Begin(RequestState.RUNNING)
                return Begin(RequestState.ANSWERED, entry[1])
            self._put(key, now + self.settings.running_seconds, None)
            return Begin(RequestState.NEW)

    def finish(self, key: RequestKey, frames: Sequence[str]) -> None:
        with self._lock:
            self._put(key, self._clock() + self.settings.window_seconds, tuple(frames))

    def abandon(self, key: RequestKey) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] is None:
                del self._entries[key]

    def _put(self, key: RequestKey, expires: float, frames: tuple[str, ...] | None) -> None:
        self._entries[key] = (expires, frames)
        self._expiries.append((expires, key))

    def _purge(self, now: float) -> None:
        """Drop the entries whose time is up, oldest first (an entry renewed since it was
        queued stays: its expiry differs)."""
        while self._expiries and self._expiries[0][0] <= now:
            expires, key = self._expiries.popleft()
            entry = self._entries.get(key)
            if entry is not None and entry[0] == expires:
                del self._entries[key]


# KEYS: the request. ARGV: running (ms). The value: "" while running, then the frames.
_BEGIN = """
local value = redis.call('GET', KEYS[1])
if value then return value end
redis.call('SET', KEYS[1], '', 'PX', tonumber(ARGV[1]))
return false
"""

_ABANDON = """
if redis.call('GET', KEYS[1]) == '' then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisRequestLedger:
    """Requests in Redis, shared by every instance of the backend. A Redis error raises
    :class:`~ws_bridge_backend.stream.SessionStoreError`."""

    def __init__(
        self,
        client: Any,
        settings: IdempotencySettings | None = None,
        *,
        prefix: str = "ws-bridge:request:",
    ) -> None:
        import redis  # the redis extra

        self.settings = settings or IdempotencySettings()
        self._client = client
        self._prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._begin = client.register_script(_BEGIN)
        self._abandon = client.register_script(_ABANDON)

    def key(self, key: RequestKey) -> str:
        # "/" is in neither a user id nor a request id: no two requests share a key.
        return f"{self._prefix}{{{key.session_id}}}:{key.user_id}/{key.request_id}"

    def begin(self, key: RequestKey) -> Begin:
        running_ms = int(self.settings.running_seconds * 1000)
        try:
            value = self._begin(keys=[self.key(key)], args=[running_ms])
        except self._errors as exc:
            raise SessionStoreError(f"redis: {type(exc).__name__}") from exc
        if value is None:
            return Begin(RequestState.NEW)
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if not text:
            return Begin(RequestState.RUNNING)
        return Begin(RequestState.ANSWERED, tuple(json.loads(text)))

    def finish(self, key: RequestKey, frames: Sequence[str]) -> None:
        value = json.dumps(list(frames), separators=(",", ":"), ensure_ascii=False)
        window_ms = int(self.settings.window_seconds * 1000)
        try:
            self._client.set(self.key(key), value.encode("utf-8"), px=window_ms)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {type(exc).__name__}") from exc

    def abandon(self, key: RequestKey) -> None:
        try:
            self._abandon(keys=[self.key(key)], args=[])
        except self._errors as exc:
            raise SessionStoreError(f"redis: {type(exc).__name__}") from exc
