"""One WebSocket connection to a stage URL: where the token goes, the handshake, frames
(a text message over API Gateway's 32 KB frame limit goes out in fragments)."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from ws_bridge_client.protocol import MAX_FRAME_BYTES

__all__ = [
    "AUTH_MODES",
    "DEFAULT_OPEN_TIMEOUT",
    "AuthMode",
    "HandshakeRejected",
    "WsClient",
    "fragments",
    "unreachable",
    "with_query",
]

AuthMode = Literal["query", "header", "subprotocol", "none"]
AUTH_MODES: Final[tuple[AuthMode, ...]] = ("query", "header", "subprotocol", "none")
DEFAULT_OPEN_TIMEOUT: Final = 25.0  # as the browser client's connect timeout


def fragments(text: str, limit: int = MAX_FRAME_BYTES) -> Iterator[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, never splitting a character."""
    data = text.encode("utf-8", errors="surrogatepass")
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        yield data[start:end].decode("utf-8", errors="surrogatepass")
        start = end


class HandshakeRejected(Exception):
    """The server refused the WebSocket upgrade with an HTTP status (401, 403, 502...)."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(f"handshake rejected: HTTP {status}")
        self.status = status
        self.body = body


def unreachable(error: BaseException) -> bool:
    """Whether `error` means nothing can answer at the URL (refused, unknown host): a retry
    right away cannot help."""
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return True
    return isinstance(error, OSError) and error.errno == errno.ECONNREFUSED


def with_query(url: str, params: Mapping[str, str]) -> str:
    """Return ``url`` with ``params`` added to (or replacing keys of) its query string."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class WsClient:
    """One WebSocket connection to the stage URL.

    ``auth`` says where ``token`` goes: ``query`` (``?token=``), ``header``
    (``Authorization: Bearer``), ``subprotocol`` (``Sec-WebSocket-Protocol: bearer, <jwt>``) or
    ``none`` (send no token; use ``query``/``headers`` to build hostile requests).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        auth: AuthMode = "query",
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] | None = None,
        open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
        max_size: int | None = 2**20,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}")
        params = dict(query or {})
        extra_headers = dict(headers or {})
        protocols = list(subprotocols or [])
        if token is not None:
            if auth == "query":
                params["token"] = token
            elif auth == "header":
                extra_headers["Authorization"] = f"Bearer {token}"
            elif auth == "subprotocol":
                protocols = ["bearer", token, *protocols]
        self.url = with_query(url, params)
        self._headers = extra_headers
        self._subprotocols = [Subprotocol(p) for p in protocols]
        self._open_timeout = open_timeout
        self._max_size = max_size
        self._connection: ClientConnection | None = None

    @property
    def connection(self) -> ClientConnection:
        if self._connection is None:
            raise RuntimeError("not connected")
        return self._connection

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected (``bearer`` for subprotocol auth)."""
        return self.connection.subprotocol

    @property
    def close_code(self) -> int | None:
        """The close code once closed (1006 when no close frame arrived)."""
        return None if self._connection is None else self._connection.close_code

    @property
    def close_reason(self) -> str | None:
        return None if self._connection is None else self._connection.close_reason

    async def connect(self) -> None:
        """Open the connection; raise ``HandshakeRejected`` when the upgrade is refused."""
        try:
            self._connection = await connect(
                self.url,
                additional_headers=self._headers or None,
                subprotocols=self._subprotocols or None,
                open_timeout=self._open_timeout,
                max_size=self._max_size,
                ping_interval=None,  # keepalive is application-level, as API Gateway needs
                compression=None,
                proxy=None,
            )
        except InvalidStatus as err:
            raise HandshakeRejected(err.response.status_code, bytes(err.response.body)) from err
        except InvalidURI:
            # The exception's text quotes the URL, which may carry the token.
            raise ValueError("not a ws:// or wss:// URL") from None

    async def send_text(self, text: str) -> None:
        """One text message; over 32 KB of UTF-8, in fragments of at most 32 KB."""
        small = len(text) * 4 <= MAX_FRAME_BYTES  # at most 4 bytes a character
        if small or len(text.encode("utf-8", "surrogatepass")) <= MAX_FRAME_BYTES:
            await self.connection.send(text)
        else:
            await self.connection.send(fragments(text))

    async def send_bytes(self, data: bytes) -> None:
        await self.connection.send(data)

    async def send_json(self, value: Any) -> None:
        await self.send_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    async def receive(self, timeout: float | None = 5.0) -> str | bytes:
        """Next message; ``TimeoutError`` after ``timeout`` s, ``ConnectionClosed`` if closed."""
        async with asyncio.timeout(timeout):
            return await self.connection.recv()

    async def receive_json(self, timeout: float | None = 5.0) -> Any:
        """Next message decoded as JSON (``ValueError`` if it is not JSON)."""
        return json.loads(await self.receive(timeout))

    async def wait_closed(self, timeout: float | None = 5.0) -> int | None:
        """Wait until the connection is closed; return the close code."""
        async with asyncio.timeout(timeout):
            await self.connection.wait_closed()
        return self.close_code

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._connection is not None:
            await self._connection.close(code, reason)

    def abort(self) -> None:
        """Drop the TCP connection at once, without a closing handshake."""
        if self._connection is not None:
            self._connection.transport.abort()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
