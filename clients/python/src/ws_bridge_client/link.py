"""One connection of a session: its handshake, its frames, the heartbeat (a ping after
``keepalive`` seconds without a frame received; no pong within ``reply_timeout`` and the
connection is dead), the resume's deadline, and its end, reported once. ``client`` decides
what the frames mean; the browser client's ``connection.js`` is the same job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed

from ws_bridge_client.connection import HandshakeRejected, WsClient, unreachable
from ws_bridge_client.protocol import encode
from ws_bridge_client.session_core import ClientError

__all__ = ["Ended", "Link", "handshake_error"]

PING = '{"type":"ping"}'


def handshake_error(err: BaseException, connect_timeout: float) -> ClientError:
    """A failed handshake as the client's error: ``refused`` (a 4xx, or nothing listens),
    ``connect_timeout``, else ``connection_lost`` (a 5xx, a reset: worth a retry)."""
    if isinstance(err, HandshakeRejected):
        code = "refused" if 400 <= err.status < 500 else "connection_lost"
        error = ClientError(code, str(err))
    elif isinstance(err, TimeoutError):
        error = ClientError("connect_timeout", f"not open after {connect_timeout} s")
    elif unreachable(err):
        error = ClientError("refused", f"nothing listens at the URL ({type(err).__name__})")
    else:
        error = ClientError("connection_lost", f"handshake failed: {type(err).__name__}")
    error.__cause__ = err
    return error


@dataclass(frozen=True)
class Ended:
    """How a connection ended: its close code and reason, whether it had opened, and the
    client's own cause when the client ended it (a dead peer, an unanswered resume)."""

    code: int
    reason: str
    was_open: bool
    cause: ClientError | None = None


class Link:
    """One WebSocket of a session. ``on_frame(link, frame)`` gets each decoded frame,
    ``on_end(link, ended)`` runs once when it ends, unless it was disposed of."""

    def __init__(
        self,
        name: str,
        client: WsClient,
        token: str | None,
        *,
        keepalive: float | None,
        reply_timeout: float,
        on_frame: Callable[[Link, Any], None],
        on_end: Callable[[Link, Ended], None],
    ) -> None:
        self.name = name
        self.client = client
        self.token = token
        self.opened = False
        self.opened_at = 0.0
        self.ended = False
        self._keepalive = keepalive
        self._reply_timeout = reply_timeout
        self._on_frame = on_frame
        self._on_end = on_end
        self._pings: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resume_timer: asyncio.TimerHandle | None = None
        self._last_frame = 0.0
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self.closing: asyncio.Task[None] | None = None  # the close handshake, once ended

    async def open(self) -> None:
        """The handshake (raises what ``WsClient.connect`` raises), then reading begins."""
        await self.client.connect()
        if self.ended:  # disposed of while the handshake ran: close what just opened
            await self._close(1000, "")
            return
        self.opened = True
        self.opened_at = time.time()
        self._last_frame = time.monotonic()
        self._spawn(self._read())
        self._spawn(self._send())
        if self._keepalive:
            self._spawn(self._heartbeat(self._keepalive))

    def send(self, frame: Any) -> None:
        """Send a frame, after those sent before it (one sender per link)."""
        if self.ended or not self.opened:
            return
        self._outbox.put_nowait(frame if isinstance(frame, str) else encode(frame))

    async def ping(self) -> None:
        """Ping; returns once the pong came. No pong within ``reply_timeout``: the connection
        is dead and ends (``ClientError`` ``reply_timeout`` here)."""
        if self.ended or not self.opened:
            raise ClientError("connection_lost", "the connection is not open")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings.append(waiter)
        self.send(PING)
        try:
            async with asyncio.timeout(self._reply_timeout):
                await asyncio.shield(waiter)
        except TimeoutError:
            # Nobody waits for this pong any more: end() must not fail the waiter with an
            # exception no one retrieves (asyncio logs each one as an error).
            if waiter in self._pings:
                self._pings.remove(waiter)
            waiter.cancel()
            self.end(
                4000, "no pong", ClientError("connection_lost", "no pong: the connection is dead")
            )
            raise ClientError("reply_timeout", f"no pong after {self._reply_timeout} s") from None

    def pong(self) -> None:
        """A pong arrived: it answers the oldest ping."""
        while self._pings:
            waiter = self._pings.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    def arm_resume(self, seconds: float, cause: ClientError) -> None:
        """End this connection if its resume is not answered within ``seconds``."""
        self.clear_resume()
        loop = asyncio.get_running_loop()
        self._resume_timer = loop.call_later(seconds, self.end, 4000, "resume unanswered", cause)

    def clear_resume(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None

    def end(self, code: int, reason: str, cause: ClientError | None = None) -> None:
        """End it: stop reading, close without waiting for the peer, report once."""
        if self.ended:
            return
        self._release(code, reason)
        self._on_end(self, Ended(code, reason, self.opened, cause))

    def dispose(self, code: int = 1000, reason: str = "") -> None:
        """End it without a report (the session closes it on purpose)."""
        if not self.ended:
            self._release(code, reason)

    # -- inside ------------------------------------------------------------------------------

    def _release(self, code: int, reason: str) -> None:
        self.ended = True
        self.clear_resume()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        lost = ClientError("connection_lost", f"connection closed ({code}) before the pong")
        for waiter in self._pings:
            if not waiter.done():
                waiter.set_exception(lost)
        self._pings.clear()
        if self.opened:
            close_code = code if code == 1000 or 3000 <= code < 5000 else 1000
            self.closing = asyncio.get_running_loop().create_task(
                self._close(close_code, reason[:120])
            )

    async def _close(self, code: int, reason: str) -> None:
        """The closing handshake, for at most 2 s. A peer that does not finish it in time is
        cut off: given up on without an abort, the socket stayed half closed for as long as
        the peer kept it (a server without keepalive waited for it for ever)."""
        closed = False
        try:
            async with asyncio.timeout(2):
                await self.client.close(code, reason)
            closed = True
        except Exception:  # noqa: BLE001, S110 - the socket may be gone already: cut it below
            pass
        finally:
            if not closed:
                self.client.abort()

    async def _read(self) -> None:
        try:
            async for message in self.client.connection:
                self._last_frame = time.monotonic()
                try:
                    frame = json.loads(message) if isinstance(message, str) else message
                except ValueError:
                    frame = message
                if self.ended:
                    return
                self._on_frame(self, frame)
        except ConnectionClosed:
            pass
        if not self.ended:
            code = int(self.client.close_code or 1006)
            self.end(code, self.client.close_reason or "")

    async def _send(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reader reports the end
            while True:
                await self.client.send_text(await self._outbox.get())

    async def _heartbeat(self, keepalive: float) -> None:
        while not self.ended:
            quiet = time.monotonic() - self._last_frame
            if quiet < keepalive:
                await asyncio.sleep(keepalive - quiet)
                continue
            self._last_frame = time.monotonic()
            with contextlib.suppress(ClientError):  # a missing pong ends the link itself
                await self.ping()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
