"""Ending and moving connections on purpose, through ``@connections`` (``aws`` extra):

- **kick**: ``{"type":"kicked","reason":...}``, then ``DELETE @connections/{id}``. The
  clients close for good on ``kicked`` (no reconnect); a kick that must hold against a
  client that reconnects anyway also needs the backend's validate to refuse that user (403).
- **rotate**: ``{"type":"rotate"}``: the clients open a new connection, resume on it and
  close the old one (make-before-break), e.g. before a deployment drains old instances.

Neither frame is numbered: they concern a connection, not the session's stream.

    control = SessionControl(pusher)
    control.disconnect(connection_id, "removed from the lab")
    control.disconnect_user("lab-1", "mallory", "removed from the lab")
    control.rotate_session("lab-1")
"""

from __future__ import annotations

import logging
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_backend.frames import kicked_frame, rotate_frame
from ws_bridge_backend.push import Pusher, PushResult

__all__ = ["MAX_REASON_CHARACTERS", "SessionControl"]

MAX_REASON_CHARACTERS: Final = 1024

log = logging.getLogger("ws_bridge_backend.control")


def _code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


class SessionControl:
    """Kicks and rotations through ``pusher``'s ``@connections`` client and registry."""

    def __init__(self, pusher: Pusher) -> None:
        self.pusher = pusher

    def disconnect(self, connection_id: str, reason: str) -> bool:
        """Tell the connection why (``kicked``), then close it. True when it was open (a
        post that failed otherwise still leads to the close: the kick stands)."""
        if len(reason) > MAX_REASON_CHARACTERS:
            raise ValueError(f"a reason is at most {MAX_REASON_CHARACTERS} characters")
        management = self.pusher.management
        gone = management.exceptions.GoneException
        try:
            management.post_to_connection(
                ConnectionId=connection_id, Data=kicked_frame(reason).encode("utf-8")
            )
        except gone:
            return False
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "kicked frame not sent", extra={"target": connection_id, "code": _code(exc)}
            )
        try:
            management.delete_connection(ConnectionId=connection_id)
        except gone:
            return False
        except (ClientError, BotoCoreError) as exc:
            log.error(
                "kicked connection not closed", extra={"target": connection_id, "code": _code(exc)}
            )
            raise
        log.info("connection kicked", extra={"target": connection_id})
        return True

    def disconnect_user(self, session_id: str, user_id: str, reason: str) -> int:
        """Kick every connection of ``user_id`` in ``session_id``; how many were open."""
        connections = self.pusher.registry.for_session(session_id)
        return sum(
            self.disconnect(record.connection_id, reason)
            for record in connections
            if record.user_id == user_id
        )

    def rotate(self, connection_id: str) -> bool:
        """Ask one connection to move to a new one; True when it was told."""
        management = self.pusher.management
        try:
            management.post_to_connection(
                ConnectionId=connection_id, Data=rotate_frame().encode("utf-8")
            )
        except management.exceptions.GoneException:
            return False
        except (ClientError, BotoCoreError) as exc:
            log.warning("rotate not sent", extra={"target": connection_id, "code": _code(exc)})
            return False
        return True

    def rotate_session(self, session_id: str) -> PushResult:
        """Ask every connection of a session to move to a new one."""
        return self.pusher.to_session(session_id, rotate_frame())
