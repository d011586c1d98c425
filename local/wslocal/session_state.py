"""Per-session state of the reference backend: the terminal's size and its recent command
results.

One interface, two stores:

- ``MemorySessionState``: a dict in the process (the default): gone when the process stops,
  not seen by a second backend process;
- ``RedisSessionState``: a Redis (or Valkey) server, ``REDIS_URL`` / ``--redis-url``: kept
  across backend restarts and shared by every backend process using the same server, as a
  backend scaled out behind the WebSocket API needs.

Redis layout, for a session ``S`` (``prefix`` defaults to ``wsbridge:``):

- ``<prefix>session:S:terminal``: hash ``cols``, ``rows``, ``updatedAt`` (epoch ms)
- ``<prefix>session:S:results``: list of JSON command results, newest first, at most
  ``RECENT_RESULTS`` of them

Both keys expire ``STATE_TTL_SECONDS`` after the last write (2 hours, the longest a WebSocket
connection lives on API Gateway), so abandoned sessions do not pile up.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Protocol

__all__ = [
    "RECENT_RESULTS",
    "STATE_TTL_SECONDS",
    "MemorySessionState",
    "RedisSessionState",
    "SessionState",
    "SessionStateError",
    "open_session_state",
    "record_reply",
]

RECENT_RESULTS: Final = 20
STATE_TTL_SECONDS: Final = 7200
DEFAULT_PREFIX: Final = "wsbridge:"
REDIS_TIMEOUT_SECONDS: Final = 2.0


class SessionStateError(Exception):
    """The store could not be read or written (Redis unreachable, for example)."""


class SessionState(Protocol):
    """Where the backend keeps what it knows about each session."""

    @property
    def kind(self) -> str:
        """``memory`` or ``redis``."""
        ...

    def set_terminal(self, session_id: str, cols: int, rows: int) -> None:
        """The terminal's size after a ``resize``."""
        ...

    def add_result(self, session_id: str, result: Mapping[str, Any]) -> None:
        """A command's result; only the newest ``RECENT_RESULTS`` are kept."""
        ...

    def snapshot(self, session_id: str) -> dict[str, Any]:
        """``{"terminal": {"cols", "rows", "updatedAt"} | None, "recentResults": [...]}``
        (results newest first)."""
        ...

    def close(self) -> None: ...


def _now_ms() -> int:
    return int(time.time() * 1000)


class MemorySessionState:
    """Session state in this process only."""

    kind = "memory"

    def __init__(self, recent: int = RECENT_RESULTS) -> None:
        self._recent = recent
        self._lock = threading.Lock()
        self._terminals: dict[str, dict[str, int]] = {}
        self._results: dict[str, deque[dict[str, Any]]] = {}

    def set_terminal(self, session_id: str, cols: int, rows: int) -> None:
        with self._lock:
            self._terminals[session_id] = {"cols": cols, "rows": rows, "updatedAt": _now_ms()}

    def add_result(self, session_id: str, result: Mapping[str, Any]) -> None:
        with self._lock:
            results = self._results.setdefault(session_id, deque(maxlen=self._recent))
            results.appendleft(dict(result))

    def snapshot(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            terminal = self._terminals.get(session_id)
            results = list(self._results.get(session_id, ()))
        return {"terminal": dict(terminal) if terminal else None, "recentResults": results}

    def close(self) -> None:
        """Nothing to release."""


class RedisSessionState:
    """Session state in Redis; every write is one MULTI/EXEC transaction."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        recent: int = RECENT_RESULTS,
        ttl_seconds: int = STATE_TTL_SECONDS,
    ) -> None:
        import redis  # only a backend given a Redis URL needs the package

        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._prefix = prefix
        self._recent = recent
        self._ttl = ttl_seconds

    def _key(self, session_id: str, part: str) -> str:
        return f"{self._prefix}session:{session_id}:{part}"

    def ping(self) -> None:
        """Raise ``SessionStateError`` unless the server answers."""
        try:
            self._client.ping()
        except self._errors as err:
            raise SessionStateError(f"redis: {type(err).__name__}") from err

    def set_terminal(self, session_id: str, cols: int, rows: int) -> None:
        key = self._key(session_id, "terminal")
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"cols": cols, "rows": rows, "updatedAt": _now_ms()})
                pipe.expire(key, self._ttl)
                pipe.execute()
        except self._errors as err:
            raise SessionStateError(f"redis: {type(err).__name__}") from err

    def add_result(self, session_id: str, result: Mapping[str, Any]) -> None:
        key = self._key(session_id, "results")
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, json.dumps(dict(result), separators=(",", ":")))
                pipe.ltrim(key, 0, self._recent - 1)
                pipe.expire(key, self._ttl)
                pipe.execute()
        except self._errors as err:
            raise SessionStateError(f"redis: {type(err).__name__}") from err

    def snapshot(self, session_id: str) -> dict[str, Any]:
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._key(session_id, "terminal"))
                pipe.lrange(self._key(session_id, "results"), 0, self._recent - 1)
                terminal, results = pipe.execute()
        except self._errors as err:
            raise SessionStateError(f"redis: {type(err).__name__}") from err
        return {
            "terminal": {name: int(value) for name, value in terminal.items()} or None,
            "recentResults": [json.loads(item) for item in results],
        }

    def close(self) -> None:
        self._client.close()


def open_session_state(redis_url: str | None) -> SessionState:
    """Redis when `redis_url` is set (checked with a PING), memory otherwise."""
    if not redis_url:
        return MemorySessionState()
    store = RedisSessionState(redis_url)
    store.ping()
    return store


def record_reply(state: SessionState, session_id: str, reply: Mapping[str, Any]) -> None:
    """Keep what a backend reply says about the session: the terminal size of a
    ``resize_ack``, the command and result of a ``command_result``; other replies change
    nothing."""
    if reply.get("type") == "resize_ack":
        state.set_terminal(session_id, int(reply["cols"]), int(reply["rows"]))
    elif reply.get("type") == "command_result":
        entry = {"command": reply["command"], "result": reply["result"], "at": _now_ms()}
        state.add_result(session_id, entry)
