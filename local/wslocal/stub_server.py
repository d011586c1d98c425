"""A small HTTP/1.1 server on an asyncio loop, for stub endpoints that stand in for
``@connections`` under load: `make bench-fanout`, the fan-out tests and `make
bench-handler`'s push.

A stub must not be the bound of what it stands for. The standard library's threaded
`http.server` spent about 500 us of CPU a request on the 2-core machine (a thread a
connection taking turns at the GIL, `email` header parsing): it answered at most about 2,000
posts a second, and under a broadcast's 128 connections some answers came later than the
worker's 2 s read timeout, so the worker sent those posts again. One asyncio loop answers the
same requests for about a tenth of the CPU, without a thread a connection.

It understands what ``@connections`` clients send: a request line, headers, and a body of
``Content-Length`` bytes (botocore, urllib3 and aiohttp all send a bytes body so), kept-alive
connections with one request at a time (none of them pipelines). ``respond(method, path,
body)`` gives the status and the body of the answer; it is called ``delay`` seconds after
the request was read, on the loop's thread, whether or not the client still waits (API
Gateway, too, delivers a post whose caller gave up). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from http import HTTPStatus

__all__ = ["Respond", "StubServer"]

type Respond = Callable[[str, str, bytes], tuple[int, bytes]]

HOST = "127.0.0.1"
MAX_HEAD_BYTES = 64 * 1024


class StubServer:
    """``StubServer(respond, delay=0.01).start()`` serves at :attr:`url` from a daemon
    thread until :meth:`stop`; also a context manager."""

    def __init__(self, respond: Respond, *, delay: float = 0.0, name: str = "stub") -> None:
        self.respond = respond
        self.delay = delay
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            self._loop.create_server(lambda: _Protocol(self), HOST, 0, backlog=1024)
        )
        self._thread: threading.Thread | None = None
        self.transports: set[asyncio.Transport] = set()  # the open connections

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._loop.run_forever, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up on the clients still connected, close the socket;
        idempotent."""
        if self._loop.is_closed():
            return
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
        self._server.close()
        for transport in list(self.transports):
            transport.abort()  # wait_closed() waits for every connection to end
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Protocol(asyncio.Protocol):
    def __init__(self, server: StubServer) -> None:
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._server.transports.discard(self._transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            method, path, length = _head(bytes(self._buffer[:end]))
            if length < 0:  # a body this stub cannot read: say so and hang up
                self._write(501, b"", close=True)
                return
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            asyncio.get_running_loop().call_later(
                self._server.delay, self._answer, method, path, body
            )
        if len(self._buffer) > MAX_HEAD_BYTES:
            self._write(431, b"", close=True)

    def _answer(self, method: str, path: str, body: bytes) -> None:
        try:
            status, payload = self._server.respond(method, path, body)
        except Exception:  # noqa: BLE001 - a stub's own bug is the client's 500, not a hang
            status, payload = 500, b'{"message":"stub error"}'
        self._write(status, payload)

    def _write(self, status: int, payload: bytes, *, close: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # a status of the stub's own
            phrase = "Status"
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        )
        transport.write(head.encode("latin-1") + payload)
        if close:
            transport.close()


def _head(head: bytes) -> tuple[str, str, int]:
    """The method, the path and the body's length (-1: chunked or unreadable)."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.rpartition(" ")[0] or rest
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "transfer-encoding":
            return method, path, -1
        if name == "content-length":
            try:
                length = int(value)
            except ValueError:
                return method, path, -1
    return method, path, length
