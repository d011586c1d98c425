"""What the session layer's tests share besides fixtures (conftest.py): a clock to move, a
Redis client that cannot connect, and a client's way of joining chunks (docs/design.md,
"Messages over 128 KB")."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wslocal.stack import free_port

NOW = 1_800_000_000


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def unreachable_redis() -> redis.Redis:
    """A client of a port nothing listens on, that fails at once (no retries)."""
    return redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


def join_chunks(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """The message the chunk frames carry, joined as a client joins them: in index order,
    all k present, the bytes decoded as UTF-8 JSON."""
    assert all(frame["type"] == "chunk" for frame in frames)
    count = frames[0]["chunk"]["count"]
    assert [frame["chunk"]["index"] for frame in frames] == list(range(count))
    assert {frame["chunk"]["message"] for frame in frames} == {frames[0]["chunk"]["message"]}
    data = b"".join(base64.b64decode(frame["data"], validate=True) for frame in frames)
    message: dict[str, Any] = json.loads(data.decode("utf-8"))
    return message
