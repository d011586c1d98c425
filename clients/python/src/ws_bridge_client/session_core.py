"""The session protocol's client side without I/O: what to send, deliver, drop, hold or
resend for each event (docs/design.md, "Session protocol").

``SessionCore`` is fed events (a connection opened or was lost, a request, a frame received
on a connection, the gap timer) and answers each with a list of actions, tuples whose first
element names them::

    ("send", conn, frame)       send frame on connection conn
    ("queued", id)              the request waits for a ready connection
    ("deliver", seq, message)   give the application this stream message
    ("reply", id, message)      the stream message answers request id
    ("reject", id, frame)       an error frame answers request id
    ("pending", id)             the backend still runs request id (a repeat)
    ("token_expired", id)       the handler refused request (or resume) id: token expired
    ("drop", seq) ("hold", seq) a duplicate; a message ahead of a gap
    ("partial", seq) ("invalid", seq)   a chunk kept; a chunk skipped
    ("resumed", conn, head) ("resync", conn, head) ("resume_failed", conn, frame)
    ("promote", conn, replaced) ("rotate", conn) ("kicked", conn, reason) ("pong", conn)
    ("ignore", frame)           not an answer to anything of ours

The same events and actions, as JSON, are ``sdk/vectors/protocol.json``; the browser
client's ``session-core.js`` is this module in JavaScript and replays the same file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ws_bridge_client.protocol import ID_PATTERN, MAX_MESSAGE_BYTES, encode, encoded_size

__all__ = ["Action", "ClientError", "SessionCore"]

Action = tuple[Any, ...]
RESERVED_TYPES: Final = frozenset({"ping", "resume"})
MAX_PARTIAL_MESSAGES: Final = 16


class ClientError(Exception):
    """A request the client refuses, or a failure of its own; ``code`` is a client error
    code (``message_too_large``, ``queue_full``, ``reply_timeout``, ...)."""

    def __init__(self, code: str, message: str = "", reply: Mapping[str, Any] | None = None):
        super().__init__(message or code)
        self.code = code
        self.reply = reply


@dataclass
class _Request:
    frame: dict[str, Any]
    sent_on: set[str] = field(default_factory=set)


@dataclass
class _Connection:
    resume_id: str | None = None
    ready: bool = False


def _is_seq(value: Any) -> bool:
    return type(value) is int and value >= 1


class SessionCore:
    """One client's side of a session: its stream position, held messages, chunks being
    joined, and its requests still waiting for an answer."""

    def __init__(self, client_id: str, *, max_queue: int = 100) -> None:
        if not ID_PATTERN.fullmatch(client_id + ".1"):
            raise ValueError("a client id is [A-Za-z0-9._:-], short enough for its request ids")
        self.client_id = client_id
        self.max_queue = max_queue
        self.last_seq = 0
        self.held: dict[int, dict[str, Any]] = {}
        self.waiting: dict[str, _Request] = {}
        self.primary: str | None = None
        self.candidate: str | None = None
        self._connections: dict[str, _Connection] = {}
        self._partial: dict[str, tuple[int, list[bytes]]] = {}
        self._counter = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether requests go out at once (the primary connection has resumed)."""
        return self.primary is not None and self._connections[self.primary].ready

    @property
    def has_gap(self) -> bool:
        return bool(self.held)

    @property
    def queued(self) -> list[str]:
        return [rid for rid, request in self.waiting.items() if not request.sent_on]

    def resuming(self, conn: str) -> bool:
        connection = self._connections.get(conn)
        return connection is not None and connection.resume_id is not None

    def next_id(self) -> str:
        self._counter += 1
        return f"{self.client_id}.{self._counter}"

    # -- events --------------------------------------------------------------------------

    def open(self, conn: str) -> list[Action]:
        """Connection ``conn`` opened: the primary's replacement after a loss, or the
        candidate of a make-before-break while the primary lives. It resumes first."""
        if conn in self._connections:
            raise ValueError(f"connection {conn!r} is already open")
        if self.primary is not None and self.candidate is not None:
            raise ValueError("a primary and a candidate connection are open already")
        self._connections[conn] = _Connection()
        if self.primary is None:
            self.primary = conn
        else:
            self.candidate = conn
        return [self._resume(conn)]

    def lost(self, conn: str) -> list[Action]:
        """Connection ``conn`` is gone; its requests wait for the next resumed connection."""
        self._connections.pop(conn, None)
        for request in self.waiting.values():
            request.sent_on.discard(conn)
        if self.candidate == conn:
            self.candidate = None
        if self.primary == conn:
            self.primary, self.candidate = self.candidate, None
        return []

    def request(self, message: Mapping[str, Any]) -> tuple[str, list[Action]]:
        """Take a request: its id and the actions (sent now, or queued). Raises ValueError
        for a message that is not a request, ``ClientError`` with ``message_too_large`` or
        ``queue_full``."""
        if not isinstance(message, Mapping):
            raise ValueError("a request is a JSON object")
        if message.get("type") in RESERVED_TYPES:
            raise ValueError(f"{message.get('type')!r} is the protocol's own type")
        rid = message.get("id")
        generated = rid is None
        if generated:
            rid = f"{self.client_id}.{self._counter + 1}"
        elif not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid):
            raise ValueError("a request id is 1 to 64 characters of [A-Za-z0-9._:-]")
        elif rid in self.waiting:
            raise ValueError(f"request {rid} is still waiting for its answer")
        frame = {**message, "id": rid}
        size = encoded_size(encode(frame))
        if size > MAX_MESSAGE_BYTES:
            raise ClientError(
                "message_too_large", f"{size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"
            )
        if len(self.waiting) >= self.max_queue:
            raise ClientError("queue_full", f"{self.max_queue} requests are waiting already")
        if generated:
            self._counter += 1  # accepted: a refused request uses no id
        self.waiting[rid] = _Request(frame)
        if not self.ready:
            return rid, [("queued", rid)]
        assert self.primary is not None
        return rid, [self._send(self.primary, rid)]

    def forget(self, rid: str) -> None:
        """Stop waiting for request ``rid`` (its reply timed out): never resent."""
        self.waiting.pop(rid, None)

    def gap_timeout(self) -> list[Action]:
        """The gap is still open after ``gap_timeout``: resume on the primary."""
        if not self.held or not self.ready or self.primary is None:
            return []
        if self.resuming(self.primary):
            return []
        return [self._resume(self.primary)]

    def receive(self, conn: str, frame: Any) -> list[Action]:
        """A frame (decoded JSON) arrived on ``conn``."""
        if not isinstance(frame, dict):
            return [("ignore", frame)]
        if "seq" in frame:
            return self._stream(frame) if _is_seq(frame["seq"]) else [("ignore", frame)]
        return self._unnumbered(conn, frame)

    # -- the stream ----------------------------------------------------------------------

    def _stream(self, frame: dict[str, Any]) -> list[Action]:
        seq: int = frame["seq"]
        if seq <= self.last_seq or seq in self.held:
            rid = frame.get("id")
            if seq <= self.last_seq and isinstance(rid, str) and rid in self.waiting:
                return [self._answer(rid, frame)]  # a reply replayed after resync_required
            return [("drop", seq)]
        if seq > self.last_seq + 1:
            self.held[seq] = frame
            return [("hold", seq)]
        actions = self._deliver(seq, frame)
        actions += self._drain()
        return actions

    def _drain(self) -> list[Action]:
        actions: list[Action] = []
        while self.last_seq + 1 in self.held:
            seq = self.last_seq + 1
            actions += self._deliver(seq, self.held.pop(seq))
        return actions

    def _deliver(self, seq: int, frame: dict[str, Any]) -> list[Action]:
        self.last_seq = seq
        if frame.get("type") == "chunk":
            joined = self._join(seq, frame)
            if isinstance(joined, tuple):
                return [joined]
            frame = joined
        actions: list[Action] = [("deliver", seq, frame)]
        rid = frame.get("id")
        if isinstance(rid, str) and rid in self.waiting:
            actions.append(self._answer(rid, frame))
        return actions

    def _join(self, seq: int, frame: dict[str, Any]) -> dict[str, Any] | Action:
        """A chunk: the whole message once its last part arrived, else partial/invalid."""
        chunk, data = frame.get("chunk"), frame.get("data")
        if not isinstance(chunk, dict) or not isinstance(data, str):
            return ("invalid", seq)
        mid, index, count = chunk.get("message"), chunk.get("index"), chunk.get("count")
        if not isinstance(mid, str) or type(index) is not int or type(count) is not int:
            return ("invalid", seq)
        try:
            part = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return ("invalid", seq)
        expected, parts = self._partial.get(mid, (count, []))
        if count != expected or not 0 <= index < count or index != len(parts):
            self._partial.pop(mid, None)
            return ("invalid", seq)  # a start lost to a resync, or out of order
        parts.append(part)
        if len(parts) < count:
            self._partial[mid] = (count, parts)
            while len(self._partial) > MAX_PARTIAL_MESSAGES:
                self._partial.pop(next(iter(self._partial)))
            return ("partial", seq)
        self._partial.pop(mid, None)
        try:
            message = json.loads(b"".join(parts).decode("utf-8"))
        except ValueError:
            return ("invalid", seq)
        return message if isinstance(message, dict) else ("invalid", seq)

    def _answer(self, rid: str, frame: dict[str, Any]) -> Action:
        del self.waiting[rid]
        if frame.get("type") == "error":
            return ("reject", rid, frame)
        return ("reply", rid, frame)

    # -- unnumbered frames ---------------------------------------------------------------

    def _unnumbered(self, conn: str, frame: dict[str, Any]) -> list[Action]:
        kind, rid = frame.get("type"), frame.get("id")
        connection = self._connections.get(conn)
        own_resume = connection is not None and rid is not None and rid == connection.resume_id
        request = self.waiting.get(rid) if isinstance(rid, str) else None
        in_flight_here = request is not None and conn in request.sent_on
        if kind == "pong":
            return [("pong", conn)]
        if kind == "rotate":
            return [("rotate", conn)]
        if kind == "kicked":
            reason = frame.get("reason")
            return [("kicked", conn, reason if isinstance(reason, str) else "")]
        if kind in {"resumed", "resync_required"} and own_resume:
            return self._resumed(conn, frame)
        if kind == "pending" and in_flight_here:
            return [("pending", rid)]
        if kind == "error" and (own_resume or in_flight_here):
            assert isinstance(rid, str)
            if frame.get("error") == "token_expired":
                return [("token_expired", rid)]
            if own_resume:
                assert connection is not None
                connection.resume_id = None
                return [("resume_failed", conn, frame)]
            return [self._answer(rid, frame)]
        return [("ignore", frame)]

    def _resumed(self, conn: str, frame: dict[str, Any]) -> list[Action]:
        connection = self._connections[conn]
        head = frame.get("headSeq")
        head = head if type(head) is int and head >= 0 else self.last_seq
        actions: list[Action] = []
        if frame.get("type") == "resync_required":
            actions.append(("resync", conn, head))
            # Below last_seq, the stream was reset (its store lost it): everything held belongs
            # to the old numbering. Above, the gap is older than the buffer: skip to headSeq.
            reset = head < self.last_seq
            if head != self.last_seq:
                self.last_seq = head
                self._partial.clear()
            for seq in sorted(s for s in self.held if reset or s <= self.last_seq):
                del self.held[seq]
                actions.append(("drop", seq))
            actions += self._drain()
        else:
            messages = frame.get("messages")
            for message in messages if isinstance(messages, list) else []:
                actions += self.receive(conn, message)
            if frame.get("more") is True:
                actions.append(self._resume(conn))
                return actions
            actions.append(("resumed", conn, head))
        connection.resume_id = None
        connection.ready = True
        return actions + self._promote(conn)

    def _promote(self, conn: str) -> list[Action]:
        """``conn`` resumed: it becomes the primary if it was the candidate, and gets every
        waiting request not sent on it yet, in first-sent order (the queue last)."""
        actions: list[Action] = []
        if self.candidate == conn:
            replaced, self.primary, self.candidate = self.primary, conn, None
            actions.append(("promote", conn, replaced))
        if self.primary != conn:
            return actions
        for rid, request in list(self.waiting.items()):
            if conn not in request.sent_on:
                actions.append(self._send(conn, rid))
        return actions

    def _send(self, conn: str, rid: str) -> Action:
        request = self.waiting[rid]
        request.sent_on.add(conn)
        return ("send", conn, request.frame)

    def _resume(self, conn: str) -> Action:
        rid = self.next_id()
        self._connections[conn].resume_id = rid
        return ("send", conn, {"type": "resume", "id": rid, "lastSeq": self.last_seq})
