"""``python -m wslocal.client mint|connect``: mint a development token, or connect, send
messages and print what arrives.

::

    python -m wslocal.client mint --secret-arn ARN --sub alice --session lab-1
    python -m wslocal.client mint --alg RS256 --key-file DIR/keys/KID.pem --sub alice \\
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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from wslocal.client.connection import (
    AUTH_MODES,
    DEFAULT_OPEN_TIMEOUT,
    HandshakeRejected,
    WsClient,
)
from wslocal.client.session import (
    DEFAULT_KEEPALIVE_SECONDS,
    Backoff,
    GaveUp,
    ReconnectingSession,
    describe,
)
from wslocal.client.tokens import TokenRecipe, token_expiry, utc
from wslocal.devtoken import DEFAULT_TTL_SECONDS

__all__ = [
    "EXIT_AWS_ERROR",
    "EXIT_CLOSED",
    "EXIT_GAVE_UP",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "UsageError",
    "main",
]

EXIT_OK: Final = 0
EXIT_REJECTED: Final = 2
EXIT_GAVE_UP: Final = 3
EXIT_CLOSED: Final = 4
EXIT_AWS_ERROR: Final = 5
EXIT_USAGE: Final = 64


class UsageError(ValueError):
    """The command line cannot work as given (nothing was sent)."""


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


def _mint(args: argparse.Namespace) -> str:
    if not args.sub:
        raise UsageError("--sub is required to mint a token")
    return TokenRecipe(
        sub=args.sub,
        secret=args.secret,
        secret_arn=args.secret_arn,
        key_file=args.key_file,
        alg=args.alg,
        kid=args.kid,
        session=args.session,
        ttl=args.ttl,
        iss=args.iss,
        aud=args.aud,
    ).mint()


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
        _stderr(f"warning: the token expired at {utc(expiry)}; connecting anyway")
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
        print(f"error: AWS: {describe(err)}", file=sys.stderr)
        return EXIT_AWS_ERROR
    except KeyboardInterrupt:
        return 130
