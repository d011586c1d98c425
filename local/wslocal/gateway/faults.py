"""Network faults on demand, for tests that break the network on purpose (the local stack
only; API Gateway has no such thing):

- ``drop``: cut open connections as a network does: the socket is aborted, no close frame
  is sent, the client sees 1006; ``$disconnect`` follows with 1006 (as API Gateway reports
  a connection that went away without a close). Asked through ``POST /_wslocal/faults/drop``
  on the ``@connections`` port (``management``).
- ``keep_disconnect``: whether a closed connection gets its ``$disconnect`` event; with
  ``--drop-disconnect-rate R`` a fraction R of them never do, as API Gateway's best effort
  (its documentation: ``$disconnect`` is usually, not always, delivered).
"""

from __future__ import annotations

import logging
import random

from wslocal.gateway.connections import Connections

__all__ = ["Faults"]

log = logging.getLogger("wslocal.gateway")


class Faults:
    """The faults a gateway injects into its open connections."""

    def __init__(
        self,
        connections: Connections,
        disconnect_drop_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 <= disconnect_drop_rate <= 1.0:
            raise ValueError("the $disconnect drop rate is a fraction from 0 to 1")
        self._connections = connections
        self._rate = disconnect_drop_rate
        self._rng = rng or random.Random()  # noqa: S311 - picks events to drop, guards nothing

    def drop(self, connection_id: str | None = None, session_id: str | None = None) -> list[str]:
        """Abort the open connections with this id, or of this session (the authorizer
        context's ``sessionId``), or all of them when neither is given; their ids."""
        dropped = []
        for cid, session in list(self._connections.open.items()):
            context = session.info.authorizer or {}
            if connection_id not in (None, cid) or session_id not in (
                None,
                context.get("sessionId"),
            ):
                continue
            session.ws.transport.abort()
            dropped.append(cid)
        if dropped:
            log.info("fault: dropped %d connection(s) without a close frame", len(dropped))
        return dropped

    def keep_disconnect(self, connection_id: str) -> bool:
        """False for the fraction of closed connections whose ``$disconnect`` is lost."""
        if self._rate and self._rng.random() < self._rate:
            log.info("fault: no $disconnect for %s (--drop-disconnect-rate)", connection_id)
            return False
        return True
