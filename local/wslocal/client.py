"""WebSocket client for the local stack: a small async library and a CLI.

CLI::

    python -m wslocal.client mint --secret-arn ARN --sub alice --session lab-1
    python -m wslocal.client mint --alg RS256 --key-file DIR/keys/KID.pem --sub alice \
        --session lab-1 --iss ISSUER --aud AUDIENCE
    python -m wslocal.client connect ws://127.0.0.1:8080/local --token JWT \\
        --send '{"type": "ping"}' --send '{"type": "command", "command": "ls"}'

``connect`` sends each ``--send`` value (or, without ``--send``, each non-empty stdin line)
verbatim as a text frame and prints every message it receives on stdout, one per line; progress
goes to stderr. It keeps the connection alive with ``{"type": "ping"}`` every ``--keepalive``
seconds (API Gateway closes a connection after 10 minutes without traffic) and, like the
browser client (clients/browser), reconnects after a dropped connection with exponential
backoff and jitter, at most ``--max-attempts`` times in a row; the count restarts once a
connection has received a message or stayed open 10 s (a server that accepts and drops at once
still ends in "gave up"). It never retries a handshake answered with a 4xx status (401, 403,
400...), nor a connection the server closed with 1000 (normal) or 1008 (policy violation), nor
a first connection that nothing accepts (connection refused, unknown host): a retry cannot
help there. The one exception is the handler's ``token_expired`` (a message sent after the
token's ``exp``), after which it closes with 1000: the client reconnects with a fresh token
(minted again when it mints from ``--secret``/``--secret-arn``/``--key-file``) and sends the
refused message again, as the browser client does.

It says why: a refused handshake is explained from the status and the client's own token
(decoded WITHOUT verification, only to read ``exp``): "the token expired at <time>", "no
token was sent", "the token is not a JWT", or a 401 for a token that has not expired (wrong
key, issuer or audience); a 403 is a valid token refused for this user, session or source.
An AWS error (reading ``--secret-arn``) is one line, never a traceback.

Exit status: 0 done; 2 handshake rejected (4xx); 3 gave up reconnecting, or nothing listens
at the URL; 4 closed by the server with a code other than 1000; 5 an AWS call failed
(reading the secret); 64 usage error (a wrong or missing flag, before anything is sent).

Library: ``WsClient`` (one connection: connect / send_json / receive_json / close, with
``HandshakeRejected.status`` when the upgrade is refused) and ``ReconnectingSession`` (the
keepalive and reconnect loop the CLI runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import errno
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from wslocal.devtoken import DEFAULT_TTL_SECONDS, mint_token, read_secret, unverified_claims

AuthMode = Literal["query", "header", "subprotocol", "none"]
AUTH_MODES: Final[tuple[AuthMode, ...]] = ("query", "header", "subprotocol", "none")
KEEPALIVE_MESSAGE: Final = '{"type":"ping"}'
NO_RECONNECT_CLOSE_CODES: Final = frozenset({1000, 1008})
DEFAULT_OPEN_TIMEOUT: Final = 25.0  # as the browser client's connect timeout
DEFAULT_KEEPALIVE_SECONDS: Final = 300.0  # half of API Gateway's 10-minute idle timeout

EXIT_OK: Final = 0
EXIT_REJECTED: Final = 2
EXIT_GAVE_UP: Final = 3
EXIT_CLOSED: Final = 4
EXIT_AWS_ERROR: Final = 5
EXIT_USAGE: Final = 64


class UsageError(ValueError):
    """The command line cannot work as given (nothing was sent)."""


class HandshakeRejected(Exception):
    """The server refused the WebSocket upgrade with an HTTP status (401, 403, 502...)."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(f"handshake rejected: HTTP {status}")
        self.status = status
        self.body = body


def _utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def token_expiry(token: str | None) -> float | None:
    """The token's ``exp`` (read WITHOUT verifying the token), None when it has none."""
    if not token:
        return None
    try:
        exp = unverified_claims(token).get("exp")
    except ValueError:
        return None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def explain_rejection(status: int, token: str | None, now: float | None = None) -> str:
    """Why a handshake was most likely refused, from its status and the client's own token."""
    now = time.time() if now is None else now
    if status == 401:
        if not token:
            return "HTTP 401: no token was sent"
        try:
            unverified_claims(token)
        except ValueError:
            return "HTTP 401: the token is not a JWT"
        exp = token_expiry(token)
        if exp is not None and exp <= now:
            return (
                f"HTTP 401: the token expired at {_utc(exp)} ({now - exp:.0f} s ago); "
                "mint a new one"
            )
        until = f" (it expires at {_utc(exp)})" if exp is not None else ""
        return (
            f"HTTP 401: the token was refused although it has not expired{until}: "
            "a wrong key, issuer, audience or algorithm"
        )
    if status == 403:
        return (
            "HTTP 403: the token is valid but this connection is not allowed (the backend "
            "refused this user or session, the query's sessionId contradicts the token, or "
            "the source address is not allowed)"
        )
    if status == 429:
        return "HTTP 429: throttled"
    return f"HTTP {status}"


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
        await self.connection.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.connection.send(data)

    async def send_json(self, value: Any) -> None:
        await self.connection.send(json.dumps(value, separators=(",", ":")))

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


# -- reconnecting session ----------------------------------------------------------------------


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


def _describe(error: BaseException) -> str:
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
                        f"({_describe(err)}); not retrying"
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
                self.on_event(f"{what}: {_describe(error)}; giving up after {_retries(retries)}")
                raise GaveUp(retries, error)
            retries += 1
            delay = self.backoff.delay(retries, self.rng)
            self.delays.append(delay)
            self.on_event(
                f"{what}: {_describe(error)}; retry {retries} of "
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


# -- CLI ---------------------------------------------------------------------------------------


def _add_token_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    secret = parser.add_mutually_exclusive_group(required=required)
    secret.add_argument("--secret", help="HMAC key (visible in the process list: local only)")
    secret.add_argument("--secret-arn", help="Secrets Manager secret holding the HMAC key")
    secret.add_argument("--key-file", help="private key PEM for RS256/ES256 (kid: its stem)")
    parser.add_argument("--alg", default="HS256", choices=["HS256", "RS256", "ES256"])
    parser.add_argument("--kid", help="key id in the header (default: the key file's stem)")
    parser.add_argument("--sub", help="user id (claim sub)")
    parser.add_argument("--session", help="session id (claim sessionId); omit to leave it out")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds until exp")
    parser.add_argument("--iss", help="claim iss")
    parser.add_argument("--aud", help="claim aud")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.client", description="Client of the local WebSocket stack."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    mint = commands.add_parser("mint", help="print a development JWT (HS256, RS256, ES256)")
    _add_token_options(mint, required=True)

    conn = commands.add_parser("connect", help="connect, send messages, print replies")
    conn.add_argument("url", help="ws://127.0.0.1:PORT/STAGE")
    conn.add_argument("--token", help="JWT to present (else minted from --secret/--secret-arn)")
    _add_token_options(conn, required=False)
    conn.add_argument("--auth", choices=AUTH_MODES, default="query", help="where the token goes")
    conn.add_argument("--query-session", help="add ?sessionId= (session named by the client)")
    conn.add_argument(
        "--send", action="append", default=[], metavar="TEXT", help="message (repeatable)"
    )
    conn.add_argument("--wait", type=float, default=5.0, help="max seconds to await replies")
    conn.add_argument(
        "--listen", type=float, default=0.0, help="then keep listening (negative: until Ctrl-C)"
    )
    conn.add_argument(
        "--keepalive",
        type=float,
        default=DEFAULT_KEEPALIVE_SECONDS,
        help='seconds between {"type":"ping"} keepalives (0: none)',
    )
    conn.add_argument("--max-attempts", type=int, default=5, help="reconnects in a row")
    conn.add_argument("--backoff-base", type=float, default=1.0, help="first delay ceiling (s)")
    conn.add_argument("--backoff-max", type=float, default=30.0, help="delay ceiling cap (s)")
    conn.add_argument(
        "--open-timeout", type=float, default=DEFAULT_OPEN_TIMEOUT, help="handshake timeout (s)"
    )
    return parser


def _secret(args: argparse.Namespace) -> str:
    if (args.alg == "HS256") == (args.key_file is not None):
        raise ValueError("--key-file goes with --alg RS256/ES256, --secret(-arn) with HS256")
    if args.key_file is not None:
        try:
            return Path(args.key_file).read_text()
        except OSError as err:
            raise ValueError(f"cannot read --key-file: {err.strerror}") from None
    return str(args.secret) if args.secret is not None else read_secret(args.secret_arn)


def _mint(args: argparse.Namespace) -> str:
    if not args.sub:
        raise UsageError("--sub is required to mint a token")
    return mint_token(
        _secret(args),
        sub=args.sub,
        session_id=args.session,
        ttl_seconds=args.ttl,
        issuer=args.iss,
        audience=args.aud,
        algorithm=args.alg,
        kid=args.kid or (Path(args.key_file).stem if args.key_file else None),
    )


def _stderr(text: str) -> None:
    print(f"[client] {text}", file=sys.stderr, flush=True)


def _stdout(message: str | bytes) -> None:
    text = message if isinstance(message, str) else f"<binary frame: {len(message)} bytes>"
    print(text, flush=True)


def _feed_stdin(queue: asyncio.Queue[str | None]) -> None:
    """Forward stdin lines to ``queue`` from a daemon thread (a blocked read never holds exit)."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        try:
            for line in sys.stdin:
                if line.strip():
                    loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        except (OSError, ValueError) as err:  # closed or unreadable stdin ends the input
            _stderr(f"stdin: {type(err).__name__}")
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()


async def _connect(args: argparse.Namespace) -> int:
    token: str | None = args.token
    if token is None and any(v is not None for v in (args.secret, args.secret_arn, args.key_file)):
        token = _mint(args)
    if token is None and args.auth != "none":
        raise UsageError(
            "no token: give --token, or --secret/--secret-arn with --sub "
            "(or --auth none to connect without one)"
        )
    expiry = token_expiry(token)
    if expiry is not None and expiry <= time.time():
        _stderr(f"warning: the token expired at {_utc(expiry)}; connecting anyway")
    query = {"sessionId": args.query_session} if args.query_session else {}
    can_mint = args.token is None and token is not None

    def factory() -> WsClient:
        # Every attempt after the first mints a fresh token when the CLI can (the handler
        # closes a connection whose token expired; the same token would be refused).
        fresh = _mint(args) if can_mint and session.opened else token
        return WsClient(
            args.url, fresh, auth=args.auth, query=query, open_timeout=args.open_timeout
        )

    session = ReconnectingSession(
        factory=factory,
        on_message=_stdout,
        on_event=_stderr,
        backoff=Backoff(args.backoff_base, args.backoff_max, args.max_attempts),
        keepalive_seconds=args.keepalive or None,
        reply_wait=args.wait,
        listen=args.listen,
        token=token,
    )
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    if args.send:
        for text in args.send:
            queue.put_nowait(text)
        queue.put_nowait(None)
    else:
        _feed_stdin(queue)
    try:
        result = await session.run(queue)
    except HandshakeRejected:
        return EXIT_REJECTED
    except GaveUp:
        return EXIT_GAVE_UP
    if result.outcome == "closed" and result.close_code != 1000:
        return EXIT_CLOSED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "mint":
            print(_mint(args))
            return EXIT_OK
        return asyncio.run(_connect(args))
    except ValueError as err:  # UsageError too
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as err:
        details = err.response.get("Error", {})
        line = f"error: AWS {err.operation_name} failed: {details.get('Code', 'Error')}"
        if details.get("Message"):
            line += f": {details['Message']}"
        print(line, file=sys.stderr)
        return EXIT_AWS_ERROR
    except BotoCoreError as err:
        print(f"error: AWS: {_describe(err)}", file=sys.stderr)
        return EXIT_AWS_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
