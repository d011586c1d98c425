"""The session protocol's frames as the backend writes them (docs/design.md, "Session
protocol"): the limits, request ids, how a frame is encoded and numbered, and the backend's
unnumbered frames (``resumed``, ``resync_required``, ``pending``, ``rotate``, ``kicked``).

A stream frame is a JSON object whose first member is ``"seq"``: the stream store writes the
number into the encoded object (:func:`numbered`), so a frame is encoded once and kept, pushed
and replayed byte for byte as first sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ws_bridge_backend import contract

__all__ = [
    "ID_PATTERN",
    "MAX_MESSAGE_BYTES",
    "MAX_STREAM_FRAME_BYTES",
    "RESUMED_RESERVE_BYTES",
    "SEQ_RESERVE_BYTES",
    "encode",
    "error_frame",
    "is_request_id",
    "kicked_frame",
    "numbered",
    "pending_frame",
    "resumed_frame",
    "resumed_overhead",
    "resync_frame",
    "rotate_frame",
]

# API Gateway's largest message, either way, and @connections' largest POST body.
MAX_MESSAGE_BYTES: Final = contract.MAX_MESSAGE_BYTES
# Room a `resumed` frame needs besides its messages: {"type":"resumed","id":<64 characters>,
# "headSeq":<16 digits>,"messages":[...],"more":false} is 118 bytes at most.
RESUMED_RESERVE_BYTES: Final = 256
# The largest stream frame: any one of them fits a `resumed` frame on its own, so a resume
# always makes progress. A larger message goes as chunks (ws_bridge_backend.chunks).
MAX_STREAM_FRAME_BYTES: Final = MAX_MESSAGE_BYTES - RESUMED_RESERVE_BYTES
# What numbering adds to an encoded object: `"seq":<up to 16 digits>,`.
SEQ_RESERVE_BYTES: Final = 24
# A request id: what both clients send (docs/design.md, "Request ids").
ID_PATTERN: Final = re.compile(contract.ID_PATTERN)


def is_request_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def encode(value: Mapping[str, Any] | Sequence[Any]) -> str:
    """Compact strict JSON, non-ASCII kept (what the clients' ``JSON.stringify`` writes);
    ``ValueError`` for NaN or Infinity."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def numbered(body: str, seq: int) -> str:
    """The encoded object ``body`` with ``"seq"`` as its first member. The stream stores do
    this (the Redis one in Lua, the same way), so the frame is never decoded again."""
    if not body.startswith("{") or not body.endswith("}"):
        raise ValueError("a stream message is a JSON object")
    rest = body[1:]
    return f'{{"seq":{seq}}}' if rest == "}" else f'{{"seq":{seq},{rest}'


def resumed_frame(request_id: str, head: int, frames: Sequence[str], more: bool) -> str:
    """The answer to a resume: ``frames`` (stream frames as first sent) joined unchanged."""
    messages = ",".join(frames)
    return (
        f'{{"type":"resumed","id":{json.dumps(request_id)},"headSeq":{head},'
        f'"messages":[{messages}],"more":{"true" if more else "false"}}}'
    )


def resumed_overhead(request_id: str, head: int) -> int:
    """The bytes of a `resumed` frame with no messages (and ``more`` false, the longer)."""
    return len(resumed_frame(request_id, head, (), False).encode())


def resync_frame(request_id: str, head: int) -> str:
    return encode({"type": "resync_required", "id": request_id, "headSeq": head})


def pending_frame(request_id: str) -> str:
    return encode({"type": "pending", "id": request_id})


def rotate_frame() -> str:
    return encode({"type": "rotate"})


def kicked_frame(reason: str) -> str:
    return encode({"type": "kicked", "reason": reason})


def error_frame(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """An error reply of the backend's (numbered like any reply once it is sent)."""
    frame: dict[str, Any] = {"type": "error", "error": code, "message": message}
    if request_id is not None:
        frame["id"] = request_id
    return frame
