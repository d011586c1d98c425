"""`@connections` on the open connections: post a message, read a connection's status,
close it. Unknown, closed or still-connecting ids are gone (410 at the HTTP edge,
`management`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wslocal.gateway.connections import CLOSE_REASONS, Connections, Session
from wslocal.gateway.data_plane import DataPlane

__all__ = ["Callbacks", "ConnectionGone", "ConnectionStatus", "OpenConnections"]


class ConnectionGone(Exception):
    """No open connection has this id (never existed, closed, or still in `$connect`)."""


@dataclass(frozen=True)
class ConnectionStatus:
    connected_at_ms: int
    last_active_at_ms: int
    source_ip: str
    user_agent: str


class OpenConnections(Protocol):
    """The `@connections` operations, as the HTTP endpoint calls them."""

    async def post_to_connection(self, connection_id: str, data: bytes) -> None: ...

    async def get_connection(self, connection_id: str) -> ConnectionStatus: ...

    async def delete_connection(self, connection_id: str) -> None: ...

    async def drop_connections(
        self, connection_id: str | None, session_id: str | None
    ) -> list[str]: ...


class Callbacks:
    """The `@connections` operations on the gateway's open connections."""

    def __init__(self, connections: Connections, data_plane: DataPlane) -> None:
        self._connections = connections
        self._data_plane = data_plane

    def _open_session(self, connection_id: str) -> Session:
        session = self._connections.open.get(connection_id)
        if session is None or session.state != "open":
            raise ConnectionGone(connection_id)
        return session

    async def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send `data` to the client: a text frame when it is UTF-8, else binary."""
        session = self._open_session(connection_id)
        try:
            frame: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            frame = data
        if not await self._data_plane.send(session, frame):
            raise ConnectionGone(connection_id)

    async def get_connection(self, connection_id: str) -> ConnectionStatus:
        session = self._open_session(connection_id)
        return ConnectionStatus(
            connected_at_ms=session.info.connected_at_ms,
            last_active_at_ms=session.last_active_ms,
            source_ip=session.info.source_ip,
            user_agent=session.info.user_agent,
        )

    async def delete_connection(self, connection_id: str) -> None:
        """Close the connection (code 1000); `$disconnect` follows."""
        session = self._open_session(connection_id)
        self._connections.close(session, 1000, CLOSE_REASONS[1000])
