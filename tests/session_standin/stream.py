"""The backend side of the session protocol (docs/design.md, "The backend's part"), as a
test's stand-in for the backend SDK: one stream per session numbered from 1, a buffer of the
last messages, resume and resync, requests run once per id (pending while running, the
stored reply replayed after), and chunks for a frame over 128 KB. It also counts what the
tests check: how often each request id arrived and ran.

Everything runs on the stand-in server's event loop; ``Sender`` sends a text frame on one
connection (False once it is gone)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_FRAME = 128 * 1024
CHUNK_SLICE = 90_000  # bytes of the message a chunk carries: its base64 and envelope fit 128 KB
RESUME_BUDGET = 120_000  # bytes of messages a `resumed` frame carries

Sender = Callable[[str], Awaitable[bool]]
Runner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def encode(frame: Any) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


async def echo_app(request: dict[str, Any]) -> dict[str, Any]:
    """The stand-in application: ``command`` answers its text (after ``delay`` seconds, at
    most 30), ``big`` answers ``size`` bytes of text, ``fail`` answers a backend error."""
    kind = request.get("type")
    if kind == "command":
        delay = request.get("delay", 0)
        if isinstance(delay, int | float) and 0 < delay <= 30:
            await asyncio.sleep(delay)
        command = str(request.get("command", ""))
        return {"type": "command_result", "command": command, "output": command}
    if kind == "big":
        size = int(request.get("size", 0))
        return {"type": "big_result", "text": "x" * max(0, min(size, 4 * MAX_FRAME))}
    if kind == "fail":
        return {"type": "error", "error": "unknown_command", "message": "no such command"}
    return {"type": "ack", "of": kind}


@dataclass
class Session:
    """One session's stream: the last seq, the buffer, the requests seen."""

    buffer_size: int
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=deque)
    connections: dict[str, Sender] = field(default_factory=dict)
    replies: dict[str, list[str]] = field(default_factory=dict)  # id -> its reply's frames
    running: set[str] = field(default_factory=set)


class StandInBackend:
    """The stand-in backend for sessions of connections that ``attach`` and ``detach``."""

    def __init__(self, *, buffer_size: int = 10_000, app: Runner = echo_app) -> None:
        self.buffer_size = buffer_size
        self.app = app
        self.sessions: dict[str, Session] = {}
        self.received: Counter[str] = Counter()  # request id -> frames that carried it
        self.executed: Counter[str] = Counter()  # request id -> runs of the application

    def session(self, session_id: str) -> Session:
        if session_id not in self.sessions:
            self.sessions[session_id] = Session(self.buffer_size)
        return self.sessions[session_id]

    def attach(self, session_id: str, connection_id: str, send: Sender) -> None:
        self.session(session_id).connections[connection_id] = send

    def detach(self, session_id: str, connection_id: str) -> None:
        self.session(session_id).connections.pop(connection_id, None)

    async def push(self, session_id: str, message: dict[str, Any], *, send: bool = True) -> int:
        """Number ``message`` (chunked when over 128 KB) and send it to every connection of
        the session (``send=False``: only into the buffer, a message lost on its way); the
        seq of its last frame."""
        frames = self._append(self.session(session_id), message)
        if send:
            await self._broadcast(self.session(session_id), frames)
        return self.session(session_id).seq

    async def handle(self, session_id: str, connection_id: str, frame: dict[str, Any]) -> None:
        """A request (or resume) that came on ``connection_id``."""
        session = self.session(session_id)
        send = session.connections.get(connection_id)
        rid = frame.get("id")
        if send is None or not isinstance(rid, str):
            return
        self.received[rid] += 1
        if frame.get("type") == "resume":
            await send(self._resume(session, rid, frame.get("lastSeq")))
            return
        if rid in session.replies:  # a repeat: the stored reply, as first sent
            for text in session.replies[rid]:
                await send(text)
            return
        if rid in session.running:
            await send(encode({"type": "pending", "id": rid}))
            return
        session.running.add(rid)
        self.executed[rid] += 1
        try:
            reply = await self.app(frame)
        finally:
            session.running.discard(rid)
        frames = self._append(session, {**reply, "id": rid})
        session.replies[rid] = frames
        await self._broadcast(session, frames)

    # -- inside ------------------------------------------------------------------------------

    def _append(self, session: Session, message: dict[str, Any]) -> list[str]:
        """``message`` as the stream's next frame(s), kept in the buffer."""
        text = encode({**message, "seq": session.seq + 1})
        if len(text.encode()) <= MAX_FRAME:
            parts = [json.loads(text)]
        else:
            data = encode(message).encode()
            slices = [data[i : i + CHUNK_SLICE] for i in range(0, len(data), CHUNK_SLICE)]
            mid = uuid.uuid4().hex
            parts = [
                {
                    "type": "chunk",
                    "seq": session.seq + 1 + index,
                    "chunk": {"message": mid, "index": index, "count": len(slices)},
                    "data": base64.b64encode(piece).decode(),
                }
                for index, piece in enumerate(slices)
            ]
        frames = []
        for part in parts:
            session.seq = part["seq"]
            frame = encode(part)
            session.buffer.append((session.seq, frame))
            frames.append(frame)
        while len(session.buffer) > session.buffer_size:
            session.buffer.popleft()
        return frames

    async def _broadcast(self, session: Session, frames: list[str]) -> None:
        for send in list(session.connections.values()):
            for frame in frames:
                if not await send(frame):
                    break

    def _resume(self, session: Session, rid: str, last: Any) -> str:
        last_seq = last if type(last) is int and last >= 0 else 0
        oldest = session.buffer[0][0] if session.buffer else session.seq + 1
        if last_seq < session.seq and last_seq + 1 < oldest:
            return encode({"type": "resync_required", "id": rid, "headSeq": session.seq})
        messages: list[str] = []
        size = 0
        more = False
        for seq, text in session.buffer:
            if seq <= last_seq:
                continue
            if messages and size + len(text.encode()) > RESUME_BUDGET:
                more = True
                break
            messages.append(text)
            size += len(text.encode()) + 1
        body = ",".join(messages)
        head = f'{{"type":"resumed","id":{json.dumps(rid)},"headSeq":{session.seq},'
        return f'{head}"messages":[{body}],"more":{"true" if more else "false"}}}'
