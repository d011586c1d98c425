"""Running a ``SessionClient`` in a test: what it delivered and reported, recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt

from ws_bridge_client import Backoff, Event, SessionClient, SessionSettings

FAST = Backoff(0.05, 0.2, 3)
KEY = "stand-in-key-that-nothing-verifies-0123"


def make_token(ttl: float = 600, **claims: Any) -> str:
    """A JWT the stand-in reads (unverified) for its exp, as the authorizer and handler do."""
    return jwt.encode({"sub": "alice", "exp": int(time.time() + ttl), **claims}, KEY)


@dataclass
class Recorder:
    client: SessionClient | None = None
    messages: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [dict(event.detail) for event in self.events if event.kind == kind]

    @property
    def seqs(self) -> list[int]:
        return [seq for seq, _ in self.messages]


def run[T](scenario: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run a test's scenario, bounded: a client that never stops fails the test in time."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def session(
    url: str,
    get_token: Callable[[str], str] | None = None,
    *,
    token: str | None = None,
    connect: bool = True,
    rng: Any = None,
    **settings: Any,
) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    client = SessionClient(
        url,
        token=token,
        get_token=get_token,
        settings=SessionSettings(**{"backoff": FAST, "reply_timeout": 5.0, **settings}),
        on_message=lambda seq, message: recorder.messages.append((seq, message)),
        on_event=recorder.events.append,
        rng=rng,
    )
    recorder.client = client
    if connect:
        await client.connect()
    try:
        yield recorder
    finally:
        await client.close()
