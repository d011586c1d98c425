"""The connection lifecycle: a connection kept alive with application pings and opened
again after a drop, with exponential backoff and jitter, a bounded number of times in a row.

This is where a session's life is decided: what ends it (input done, a deliberate close by
the server, a refused handshake, giving up), what calls for a reconnect (a drop, the
handler's ``token_expired``), and which message is sent again after one. Whatever changes
that life (resuming a session, deduplicating replies, opening the next connection before
the old one closes) belongs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from wslocal.client.connection import HandshakeRejected, WsClient, unreachable
from wslocal.client.tokens import explain_rejection

__all__ = [
    "DEFAULT_KEEPALIVE_SECONDS",
    "KEEPALIVE_MESSAGE",
    "NO_RECONNECT_CLOSE_CODES",
    "Backoff",
    "ConnectionDropped",
    "GaveUp",
    "ReconnectingSession",
    "SessionResult",
    "describe",
]

KEEPALIVE_MESSAGE: Final = '{"type":"ping"}'
NO_RECONNECT_CLOSE_CODES: Final = frozenset({1000, 1008})
DEFAULT_KEEPALIVE_SECONDS: Final = 300.0  # half of API Gateway's 10-minute idle timeout


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits in [c/2, c], c = min(max, base·2^(n-1))."""

    base_seconds: float = 1.0
    max_seconds: float = 30.0
    max_attempts: int = 5
    stable_seconds: float = 10.0
    """A connection that stayed open this long, or received a message, restarts the count."""

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= max_seconds")
        if self.max_attempts < 0:
            raise ValueError("max_attempts must be >= 0")

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _retries(count: int) -> str:
    return f"{count} {'retry' if count == 1 else 'retries'}"


class GaveUp(Exception):
    """Connecting failed after ``attempts`` retries in a row (0: not retried, because nothing
    listens at the URL)."""

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {_retries(attempts)}: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


class ConnectionDropped(Exception):
    """The server side ended a connection in a way that calls for a reconnect."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"close code {code}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SessionResult:
    """How a session ended: ``done`` (input sent, replies awaited) or ``closed`` by the server."""

    outcome: Literal["done", "closed"]
    close_code: int | None = None
    close_reason: str | None = None


Sleep = Callable[[float], Awaitable[None]]
_DONE: Final = "done"


def describe(error: BaseException) -> str:
    """One line for an error: its message, or its type when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _is_token_expired(message: str | bytes) -> bool:
    """The handler's answer to a message sent after the token's exp (it then closes)."""
    if not isinstance(message, str) or "token_expired" not in message:
        return False
    try:
        value = json.loads(message)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("error") == "token_expired"


def _is_pong(message: str | bytes) -> bool:
    if not isinstance(message, str):
        return False
    try:
        value = json.loads(message)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("type") == "pong"


@dataclass
class ReconnectingSession:
    """Sends queued messages over a connection that is kept alive and re-opened when dropped.

    ``factory`` builds a fresh ``WsClient`` for each attempt. Messages put on ``outgoing`` are
    sent in order; ``None`` ends the input: the session then waits up to ``reply_wait`` seconds
    until one message has arrived per message sent, listens ``listen`` more seconds (negative:
    forever) and closes. A message whose send failed is sent again after the reconnect.
    """

    factory: Callable[[], WsClient]
    on_message: Callable[[str | bytes], None]
    on_event: Callable[[str], None] = lambda _text: None
    backoff: Backoff = field(default_factory=Backoff)
    keepalive_seconds: float | None = DEFAULT_KEEPALIVE_SECONDS
    reply_wait: float = 5.0
    listen: float = 0.0
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    opened: int = 0
    sent: int = 0
    received: int = 0
    keepalives_sent: int = 0
    delays: list[float] = field(default_factory=list)
    _pending: str | None = field(default=None, init=False, repr=False)
    _input_done: bool = field(default=False, init=False, repr=False)
    _keepalive_outstanding: int = field(default=0, init=False, repr=False)
    _caught_up: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _token_expired: bool = field(default=False, init=False, repr=False)
    _last_sent: str | None = field(default=None, init=False, repr=False)

    token: str | None = None
    """The client's own token, read (unverified) to explain a refused handshake."""

    async def run(self, outgoing: asyncio.Queue[str | None]) -> SessionResult:
        """Run until the input is done or the server closes; raise ``HandshakeRejected``
        (4xx, never retried) or ``GaveUp``."""
        retries = 0
        while True:
            client = self.factory()
            error: BaseException
            what = "connection dropped" if self.opened else "connect failed"
            try:
                await client.connect()
            except HandshakeRejected as err:
                if 400 <= err.status < 500:
                    reason = explain_rejection(err.status, self.token)
                    self.on_event(f"rejected: {reason}; not retrying")
                    raise
                error = err
            except (OSError, TimeoutError, InvalidHandshake) as err:
                error = err
                if not self.opened and unreachable(err):
                    self.on_event(
                        f"nothing listens at {urlsplit(client.url).netloc} "
                        f"({describe(err)}); not retrying"
                    )
                    raise GaveUp(0, err) from err
            else:
                self.opened += 1
                self.on_event("connected" if self.opened == 1 else "reconnected")
                opened_at, received_before = time.monotonic(), self.received
                try:
                    result = await self._pump(client, outgoing)
                except ConnectionDropped as err:
                    error = err
                    what = "connection dropped"
                    lasted = time.monotonic() - opened_at
                    if lasted >= self.backoff.stable_seconds or self.received > received_before:
                        retries = 0
                else:
                    return result
                finally:
                    await client.close()
            if retries >= self.backoff.max_attempts:
                self.on_event(f"{what}: {describe(error)}; giving up after {_retries(retries)}")
                raise GaveUp(retries, error)
            retries += 1
            delay = self.backoff.delay(retries, self.rng)
            self.delays.append(delay)
            self.on_event(
                f"{what}: {describe(error)}; retry {retries} of "
                f"{self.backoff.max_attempts} in {delay:.2f} s"
            )
            await self.sleep(delay)

    async def _pump(self, client: WsClient, outgoing: asyncio.Queue[str | None]) -> SessionResult:
        self._keepalive_outstanding = 0
        reader = asyncio.create_task(self._read(client))
        sender = asyncio.create_task(self._send(client, outgoing))
        keepalive = asyncio.create_task(self._keepalive(client))
        try:
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender.done() and not sender.cancelled() and sender.exception() is None:
                await client.close()
                return SessionResult("done", client.close_code, client.close_reason)
            sender.cancel()
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
            await reader  # ends once the connection is closed
        finally:
            for task in (reader, sender, keepalive):
                task.cancel()
            await asyncio.gather(reader, sender, keepalive, return_exceptions=True)
        code, reason = client.close_code, client.close_reason
        if self._token_expired:
            # The handler said `token_expired` and closed (1000): not a deliberate end of
            # the session, so reconnect, with a fresh token when the factory can mint one.
            self._token_expired = False
            raise ConnectionDropped(code, "the token expired")
        if code in NO_RECONNECT_CLOSE_CODES:
            self.on_event(f"closed by the server: {code} {reason or ''}".rstrip())
            return SessionResult("closed", code, reason)
        raise ConnectionDropped(code, reason)

    async def _read(self, client: WsClient) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in client.connection:
                if self._keepalive_outstanding and _is_pong(message):
                    self._keepalive_outstanding -= 1
                    continue
                if _is_token_expired(message):
                    # Not the reply: the handler refused the message and closes. The one
                    # message awaiting its reply is sent again on the next connection (with
                    # several in flight, which was refused is unknown: none is resent).
                    self.on_message(message)
                    self._token_expired = True
                    if self.sent - self.received == 1 and self._last_sent is not None:
                        self._pending, self.sent = self._last_sent, self.sent - 1
                        self.on_event("the token expired: reconnecting to send the message again")
                    else:
                        self.on_event("the token expired: reconnecting with a fresh token")
                    continue
                self.received += 1
                if self.received >= self.sent:
                    self._caught_up.set()
                self.on_message(message)

    async def _send(self, client: WsClient, outgoing: asyncio.Queue[str | None]) -> str:
        while self._pending is not None or not self._input_done:
            if self._pending is None:
                item = await outgoing.get()
                if item is None:
                    self._input_done = True
                    continue
                self._pending = item
            await client.send_text(self._pending)
            self._last_sent, self._pending = self._pending, None
            self.sent += 1
            if self.received < self.sent:
                self._caught_up.clear()
        if self.received < self.sent:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.reply_wait):
                    await self._caught_up.wait()
        if self.listen < 0:
            await asyncio.Event().wait()
        await asyncio.sleep(self.listen)
        return _DONE

    async def _keepalive(self, client: WsClient) -> None:
        if not self.keepalive_seconds:
            return
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.keepalive_seconds)
                await client.send_text(KEEPALIVE_MESSAGE)
                self._keepalive_outstanding += 1
                self.keepalives_sent += 1
