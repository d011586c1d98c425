"""The Python client's end of a connection against a peer that never answers: no pong, no
closing handshake. The client must not leave the socket half open behind it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from session_helpers import run
from websockets.utils import accept_key

from ws_bridge_client.connection import WsClient
from ws_bridge_client.link import Ended, Link


async def _mute_peer(gone: asyncio.Event, reader: asyncio.StreamReader, writer: Any) -> None:
    """Accept the upgrade, then read everything and answer nothing until the client goes."""
    request = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"sec-websocket-key: *(\S+)", request, re.IGNORECASE)
    assert found is not None
    accept = accept_key(found.group(1).decode()).encode()
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()
    while await reader.read(4096):
        pass
    gone.set()
    writer.close()


def test_a_dead_peer_that_never_answers_the_close_is_cut_off() -> None:
    """CI met this as a stand-in server that waited for ever to stop: the client gave up its
    closing handshake after 2 s without dropping the socket."""

    async def scenario() -> float:
        gone = asyncio.Event()
        server = await asyncio.start_server(lambda r, w: _mute_peer(gone, r, w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        ended: list[Ended] = []
        link = Link(
            "t",
            WsClient(f"ws://127.0.0.1:{port}/local"),
            None,
            keepalive=0.1,
            reply_timeout=0.2,
            on_frame=lambda _link, _frame: None,
            on_end=lambda _link, end: ended.append(end),
        )
        await link.open()
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(gone.wait(), 10)  # the heartbeat finds it dead, then closes
        assert [(e.code, e.cause and e.cause.code) for e in ended] == [(4000, "connection_lost")]
        server.close()
        return asyncio.get_running_loop().time() - started

    # About 2.3 s: the heartbeat, then the 2 s closing handshake it gives up on. Without
    # the abort the socket stays open until the wait above fails.
    assert run(scenario(), timeout=20) < 8
