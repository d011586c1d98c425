"""What a ``SessionClient`` is given: where the token goes and the limits (the protocol's
defaults, ``protocol.DEFAULTS``), how it gets tokens; the events it reports and the requests
it takes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ws_bridge_client.connection import AuthMode
from ws_bridge_client.protocol import DEFAULTS, Backoff

__all__ = ["Event", "SentRequest", "SessionSettings", "TokenSource"]

TokenSource = Callable[[str], str | Awaitable[str]]


@dataclass(frozen=True)
class Event:
    """Something the client reports: ``kind`` is ``state``, ``open``, ``close``, ``error``,
    ``resume``, ``resync``, ``rollover`` or ``unnumbered`` (as the browser client's events)."""

    kind: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request ``SessionClient.request`` took: its ``id``, its W3C ``traceparent``, and
    its reply when awaited (what ``SessionClient.send`` returns)."""

    id: str
    traceparent: str
    reply: asyncio.Future[dict[str, Any]]

    def __await__(self) -> Generator[Any, None, dict[str, Any]]:
        return self.reply.__await__()


@dataclass(frozen=True)
class SessionSettings:
    """Where the token goes, and the limits: the protocol's defaults (``DEFAULTS``)."""

    auth: AuthMode = "subprotocol"
    query: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float = DEFAULTS.connect_timeout
    reply_timeout: float = DEFAULTS.reply_timeout
    keepalive: float | None = DEFAULTS.keepalive
    gap_timeout: float = DEFAULTS.gap_timeout
    max_queue: int = DEFAULTS.max_queue
    max_duration: float = DEFAULTS.max_duration
    rollover_margin: float = DEFAULTS.rollover_margin
    backoff: Backoff = field(default_factory=Backoff)
    stop_on_close_codes: frozenset[int] = frozenset({1008})
