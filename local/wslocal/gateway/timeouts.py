"""API Gateway's two time limits on a connection: idle (no message either way) for
`idle_timeout` seconds, or open for `max_duration` seconds, and it is closed with 1001.
A short limit of either (`--idle-timeout`, `--max-duration`) makes the close come soon."""

from __future__ import annotations

import asyncio

from wslocal.gateway.connections import CLOSE_REASONS, Connections
from wslocal.gateway.events import now_ms

__all__ = ["sweep"]


async def sweep(connections: Connections, idle_timeout: float, max_duration: float) -> None:
    """Close the connections past either limit, checking a few times per limit, until
    cancelled."""
    interval = max(0.05, min(1.0, idle_timeout / 4, max_duration / 4))
    while True:
        await asyncio.sleep(interval)
        now = now_ms()
        for session in list(connections.open.values()):
            too_old = now - session.info.connected_at_ms >= max_duration * 1000
            idle = now - session.last_active_ms >= idle_timeout * 1000
            if too_old or idle:
                connections.close(session, 1001, CLOSE_REASONS[1001])
