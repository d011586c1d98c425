"""Delivering numbered frames to a session's connections through ``@connections`` (``aws``
extra): the session layer's fan-out, over ``ws_bridge_backend.push``.

The session's connections are read from the registry once per message, then each frame of
the message (one, or its chunks in order) is posted to each of them. A frame that does not
reach a connection is not lost: it is in the stream, and the client gets it when it
resumes (after a reconnect, or once a later frame shows it a gap).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_backend.push import Pusher, PushResult

__all__ = ["Delivery", "PusherDelivery", "add_results"]

log = logging.getLogger("ws_bridge_backend.delivery")


class Delivery(Protocol):
    """Where the session layer sends numbered frames besides the route's answer."""

    def to_session(
        self, session_id: str, frames: Sequence[str], exclude: str | None = None
    ) -> PushResult:
        """Every frame, in order, to every connection of the session but ``exclude``."""
        ...

    def to_connection(self, connection_id: str, frames: Sequence[str]) -> None:
        """Every frame, in order, to one connection (best effort)."""
        ...


def add_results(first: PushResult, second: PushResult) -> PushResult:
    return PushResult(
        sent=first.sent + second.sent,
        gone=first.gone + second.gone,
        failed=first.failed + second.failed,
        skipped=first.skipped + second.skipped,
        expired=first.expired + second.expired,
    )


class PusherDelivery:
    """:class:`Delivery` through a :class:`~ws_bridge_backend.push.Pusher` (its registry
    and its ``@connections`` client)."""

    def __init__(self, pusher: Pusher) -> None:
        self.pusher = pusher

    def to_session(
        self, session_id: str, frames: Sequence[str], exclude: str | None = None
    ) -> PushResult:
        records = [
            record
            for record in self.pusher.registry.for_session(session_id)
            if record.connection_id != exclude
        ]
        total = PushResult()
        if not records:
            return total
        for frame in frames:
            total = add_results(total, self.pusher.to_connections(records, frame.encode()))
        return total

    def to_connection(self, connection_id: str, frames: Sequence[str]) -> None:
        management = self.pusher.management
        for frame in frames:
            try:
                management.post_to_connection(ConnectionId=connection_id, Data=frame.encode())
            except (ClientError, BotoCoreError) as exc:
                # Its stream holds the frame: the client gets it when it resumes.
                log.info(
                    "frame not posted to the requester",
                    extra={"target": connection_id, "error": type(exc).__name__},
                )
                return
