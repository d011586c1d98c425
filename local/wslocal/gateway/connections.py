"""The connections a gateway holds: each one's state (`Session`), those in their handshake
and those open, and closing one from the server's side.

`Connections.close` is the one way the gateway ends a connection itself (the idle and
maximum-duration sweep, `DELETE @connections`, stop): a fault that drops connections
belongs beside it.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Literal

from websockets.asyncio.server import ServerConnection

from wslocal.gateway.events import ConnectionInfo, HandshakeRequest
from wslocal.gateway.tasks import Tasks

__all__ = ["CLOSE_REASONS", "Connections", "Session", "close_status"]

CLOSE_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection was closed abnormally",
    1009: "Message too big",
}


@dataclass(eq=False)
class Session:
    """One connection: what its events carry, its handshake request, its state and what
    the handshake decided (subprotocol, response headers)."""

    info: ConnectionInfo
    request: HandshakeRequest
    ws: ServerConnection
    state: Literal["connecting", "open", "closing", "closed"] = "connecting"
    last_active_ms: int = 0
    subprotocol: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    # Set when the gateway closed it (code, reason): what $disconnect reports.
    close_cause: tuple[int, str] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def close_status(session: Session) -> tuple[int, str]:
    """The code and reason `$disconnect` reports: the gateway's own cause, else the close
    frame that ended the connection (1006 without one)."""
    if session.close_cause is not None:
        return session.close_cause
    protocol = session.ws.protocol
    sent, received = protocol.close_sent, protocol.close_rcvd
    if sent is not None and (received is None or not protocol.close_rcvd_then_sent):
        return int(sent.code), sent.reason or CLOSE_REASONS.get(int(sent.code), "")
    if received is not None:
        code = int(received.code)
        return code, received.reason or CLOSE_REASONS.get(code, "")
    return 1006, CLOSE_REASONS[1006]


class Connections:
    """Connections in their handshake (by their websockets connection) and open ones (by
    connection id). `accepting` turns False when the gateway stops."""

    def __init__(self, tasks: Tasks) -> None:
        self._tasks = tasks
        self.handshakes: weakref.WeakKeyDictionary[ServerConnection, Session] = (
            weakref.WeakKeyDictionary()
        )
        self.open: dict[str, Session] = {}
        self.accepting = True

    def opened(self, session: Session) -> None:
        session.state = "open"
        self.open[session.info.connection_id] = session

    def ended(self, session: Session) -> None:
        session.state = "closed"
        self.open.pop(session.info.connection_id, None)

    def close(self, session: Session, code: int, reason: str) -> None:
        """Close `session` from the server's side with `code` and `reason` (what its
        `$disconnect` reports); once only."""
        if session.close_cause is not None:
            return
        session.close_cause = (code, reason)
        session.state = "closing"
        self.open.pop(session.info.connection_id, None)
        self._tasks.spawn(session.ws.close(code, reason))

    def going_away(self) -> None:
        """Every open connection's `$disconnect` will report 1001 (the gateway stops)."""
        for session in list(self.open.values()):
            if session.close_cause is None:
                session.close_cause = (1001, CLOSE_REASONS[1001])

    def cancel_messages(self) -> None:
        """Cancel the message handling still running on open connections."""
        for session in list(self.open.values()):
            for task in session.tasks:
                task.cancel()
