"""Chunks: a message too large for one stream frame is cut into slices that a client joins
back byte for byte, each numbered frame within the limit (so also within a resume)."""

from __future__ import annotations

import json

import pytest
from session_support import join_chunks

from ws_bridge_backend.chunks import CHUNK_DATA_BYTES, chunk_bodies, chunk_count, needs_chunks
from ws_bridge_backend.frames import (
    MAX_MESSAGE_BYTES,
    MAX_STREAM_FRAME_BYTES,
    encode,
    numbered,
    resumed_frame,
)


def message_of(size: int, filler: str = "x") -> str:
    """An encoded object of exactly ``size`` bytes (``filler`` one byte or more)."""
    head = '{"type":"output","id":"c.2","text":"'
    room = size - len(head) - 2
    text = filler * (room // len(filler.encode()))
    text += "y" * (room - len(text.encode()))
    body = f'{head}{text}"}}'
    assert len(body.encode()) == size
    return body


def test_a_message_that_fits_one_frame_is_not_chunked() -> None:
    assert not needs_chunks(message_of(MAX_STREAM_FRAME_BYTES - 24))
    assert needs_chunks(message_of(MAX_STREAM_FRAME_BYTES - 23))


@pytest.mark.parametrize("filler", ["x", "é", "😀"], ids=["ascii", "2-byte", "4-byte"])
@pytest.mark.parametrize("size", [MAX_MESSAGE_BYTES, 3 * CHUNK_DATA_BYTES + 1, 1024 * 1024])
def test_chunks_join_back_byte_for_byte_each_frame_within_the_limit(size: int, filler: str) -> None:
    body = message_of(size, filler)
    bodies = chunk_bodies(body, "m1")
    assert len(bodies) == chunk_count(size) == -(-size // CHUNK_DATA_BYTES)
    # Numbered with the largest seq a stream may reach, each still fits one resumed frame.
    frames = [numbered(chunk, 10**16 - 1) for chunk in bodies]
    assert max(len(frame.encode()) for frame in frames) <= MAX_STREAM_FRAME_BYTES
    assert len(resumed_frame("x" * 64, 10**16 - 1, frames[:1], True).encode()) <= (
        MAX_MESSAGE_BYTES
    )
    # A UTF-8 character may be cut between two slices: the client joins bytes, then decodes.
    assert join_chunks([json.loads(frame) for frame in frames]) == json.loads(body)


def test_each_message_gets_its_own_chunk_id() -> None:
    body = message_of(MAX_MESSAGE_BYTES)
    first, second = chunk_bodies(body), chunk_bodies(body)
    assert json.loads(first[0])["chunk"]["message"] != json.loads(second[0])["chunk"]["message"]
    assert json.loads(first[0]) == {
        "type": "chunk",
        "chunk": {"message": json.loads(first[0])["chunk"]["message"], "index": 0, "count": 2},
        "data": json.loads(first[0])["data"],
    }
    assert encode(json.loads(first[1])) == first[1]
