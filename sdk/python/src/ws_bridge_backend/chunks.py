"""Messages over the stream frame limit, sent as numbered chunks (docs/design.md, "Messages
over 128 KB"): ``{"type":"chunk","chunk":{"message":<id>,"index":i,"count":k},"data":<base64
of bytes [start, end) of the message's UTF-8 JSON>}``, indexes 0 to k-1, each a stream
message of its own (the stream numbers them with consecutive seqs). A client joins the
slices once all k arrived and delivers the message at the seq of its last chunk.

A message is chunked when, numbered, it would be over ``MAX_STREAM_FRAME_BYTES`` (128 KB less
the room a ``resumed`` frame needs, so that every stream frame can be replayed). Every chunk
frame, numbered, is at most that size too.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from ws_bridge_backend.frames import MAX_STREAM_FRAME_BYTES, SEQ_RESERVE_BYTES, encode

__all__ = [
    "CHUNK_DATA_BYTES",
    "CHUNK_ENVELOPE_RESERVE_BYTES",
    "chunk_bodies",
    "chunk_count",
    "needs_chunks",
]

# Room for the chunk's envelope, numbered: {"seq":<16 digits>,"type":"chunk","chunk":
# {"message":"<16 hex>","index":<n>,"count":<n>},"data":"..."} is about 110 bytes.
CHUNK_ENVELOPE_RESERVE_BYTES: Final = 256
# Bytes of the message one chunk carries: their base64 fits what the envelope leaves.
CHUNK_DATA_BYTES: Final = (MAX_STREAM_FRAME_BYTES - CHUNK_ENVELOPE_RESERVE_BYTES) // 4 * 3


def needs_chunks(body: str) -> bool:
    """Whether the encoded object ``body`` is too large for one stream frame."""
    return len(body.encode("utf-8")) + SEQ_RESERVE_BYTES > MAX_STREAM_FRAME_BYTES


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_DATA_BYTES))


def chunk_bodies(body: str, message_id: str | None = None) -> list[str]:
    """The chunks of the encoded object ``body``, in order, without their seqs."""
    data = body.encode("utf-8")
    mid = message_id or secrets.token_hex(8)
    count = chunk_count(len(data))
    return [
        encode(
            {
                "type": "chunk",
                "chunk": {"message": mid, "index": index, "count": count},
                "data": base64.b64encode(
                    data[index * CHUNK_DATA_BYTES : (index + 1) * CHUNK_DATA_BYTES]
                ).decode("ascii"),
            }
        )
        for index in range(count)
    ]
