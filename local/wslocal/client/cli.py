"""``python -m wslocal.client mint|connect``: mint a development token, or connect, send
messages and print what arrives.

::

    python -m wslocal.client mint --secret-arn ARN --sub alice --session lab-1
    python -m wslocal.client mint --alg RS256 --key-file DIR/keys/KID.pem --sub alice \\
        --session lab-1 --iss ISSUER --aud AUDIENCE
    python -m wslocal.client connect ws://127.0.0.1:8080/local --token JWT \\
        --send '{"type": "ping"}' --send '{"type": "command", "command": "ls"}'

``connect`` speaks the session protocol (docs/design.md, "Session protocol") through
``ws_bridge_client.SessionClient``: each ``--send`` value (or, without ``--send``, each
non-empty stdin line) must be a JSON object, sent as a request (with an id added); the
session's stream messages are printed on stdout as they are delivered, one JSON object per
line, in order and each once (replies included); an error reply is printed too;
``{"type": "ping"}`` is a ping, its pong printed. Progress goes to stderr. After a dropped
connection it reconnects with exponential backoff and jitter, at most ``--max-attempts``
failed attempts in a row, resumes where it was and sends again the requests still without an
answer (the backend runs each once). Before the 2-hour limit it moves to a new connection.
After the handler's ``token_expired`` it mints a token later than the refused one (when it
mints from ``--secret``/``--secret-arn``/``--key-file``), else it ends. It never retries a
first handshake refused with a 4xx status (401, 403, 400...), nor one that nothing accepts
(connection refused, unknown host): a retry cannot help there.

It says why: a refused handshake is explained from the status and the client's own token
(decoded WITHOUT verification, only to read ``exp``): "the token expired at <time>", "no
token was sent", "the token is not a JWT", or a 401 for a token that has not expired (wrong
key, issuer or audience); a 403 is a valid token refused for this user, session or source.
An AWS error (reading ``--secret-arn``) is one line, never a traceback.

Exit status: 0 done; 2 handshake rejected (4xx); 3 gave up reconnecting, or nothing listens
at the URL; 4 ended by the server (kicked, a policy close, an expired token it cannot
renew); 5 an AWS call failed (reading the secret); 64 usage error (a wrong or missing flag,
before anything is sent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_client import (
    AUTH_MODES,
    DEFAULT_OPEN_TIMEOUT,
    DEFAULTS,
    Backoff,
    Event,
    HandshakeRejected,
    SessionClient,
    SessionSettings,
)
from ws_bridge_client import ClientError as SessionError
from wslocal.client.tokens import TokenRecipe, explain_rejection, token_expiry, utc
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
        default=DEFAULTS.keepalive,
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


def _stdout(message: Any) -> None:
    print(json.dumps(message, ensure_ascii=False), flush=True)


def _describe(error: BaseException) -> str:
    """One line for an error: its message, or its type when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


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


def _progress(event: Event) -> None:
    """What the session does, one line on stderr (never a token)."""
    detail = event.detail
    if event.kind == "state" and detail["state"] == "reconnecting" and detail["delay"] is not None:
        attempt, delay = detail["attempt"], detail["delay"]
        _stderr(f"reconnecting ({detail['reason']}): attempt {attempt} in {delay:.2f} s")
    elif event.kind == "state" and detail["state"] == "closed":
        _stderr(f"closed: {detail['reason']}")
    elif event.kind == "open" and not detail["rollover"]:
        _stderr("reconnected" if detail["reconnected"] else "connected")
    elif event.kind in {"resync", "rollover"}:
        _stderr(f"{event.kind}: {dict(detail)}")
    elif event.kind == "error":
        _stderr(f"error: {detail['code']}: {detail['message']}")


async def _request(client: SessionClient, text: str) -> None:
    """Send one input line; a ping prints its pong, an error reply is printed."""
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        _stderr(f"not sent: a line must be a JSON object ({text[:40]!r})")
        return
    try:
        if message.get("type") == "ping" and len(message) == 1:
            await client.ping()
            _stdout({"type": "pong"})
        else:
            await client.send(message)  # the reply is a stream message: printed on delivery
    except SessionError as err:
        _stdout(err.reply) if err.reply else _stderr(f"{err.code}: {err}")
    except ValueError as err:
        _stderr(f"not sent: {err}")


def _token_source(args: argparse.Namespace) -> tuple[str, Callable[[str], str] | None]:
    """The first token, and what the session asks before each handshake when the CLI can
    mint: a fresh token each time (so a later exp after token_expired)."""
    if args.token is not None:
        return args.token, None
    if any(v is not None for v in (args.secret, args.secret_arn, args.key_file)):
        return _mint(args), lambda _reason: _mint(args)
    if args.auth == "none":
        return "-", None  # never sent: --auth none connects without a token on purpose
    raise UsageError("no token: give --token, or --secret/--secret-arn with --sub")


async def _connect(args: argparse.Namespace) -> int:
    token, get_token = _token_source(args)
    expiry = token_expiry(token)
    if expiry is not None and expiry <= time.time():
        _stderr(f"warning: the token expired at {utc(expiry)}; connecting anyway")
    client = SessionClient(
        args.url,
        token=token,
        get_token=get_token,
        settings=SessionSettings(
            auth=args.auth,
            query={"sessionId": args.query_session} if args.query_session else {},
            connect_timeout=args.open_timeout,
            keepalive=args.keepalive or None,
            backoff=Backoff(args.backoff_base, args.backoff_max, args.max_attempts),
        ),
        on_message=lambda _seq, message: _stdout(message),
        on_event=_progress,
    )
    try:
        await client.connect()
    except SessionError as err:
        return _connect_failure(err, args.url, token if args.auth != "none" else None)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    if args.send:
        for text in args.send:
            queue.put_nowait(text)
        queue.put_nowait(None)
    else:
        _feed_stdin(queue)
    requests: list[asyncio.Task[None]] = []
    while (text := await queue.get()) is not None:
        requests.append(asyncio.create_task(_request(client, text)))
    if requests:
        await asyncio.wait(requests, timeout=args.wait)
    if args.listen < 0:
        while client.state != "closed":
            await asyncio.sleep(0.5)
    elif client.state != "closed":
        await asyncio.sleep(args.listen)
    if client.state == "closed":
        return EXIT_GAVE_UP if client.close_reason == "gave_up" else EXIT_CLOSED
    await client.close()
    return EXIT_OK


def _connect_failure(err: SessionError, url: str, token: str | None) -> int:
    """Why the first connect failed, on stderr, and the exit status that says it."""
    cause = err.__cause__
    if isinstance(cause, HandshakeRejected) and 400 <= cause.status < 500:
        _stderr(f"rejected: {explain_rejection(cause.status, token)}; not retrying")
        return EXIT_REJECTED
    if err.code == "refused" and isinstance(cause, OSError):
        where = urlsplit(url).netloc
        _stderr(f"nothing listens at {where} ({_describe(cause)}); not retrying")
        return EXIT_GAVE_UP
    _stderr(f"{err.code}: {_describe(err)}")
    return EXIT_GAVE_UP if err.code in {"gave_up", "connect_timeout", "refused"} else EXIT_CLOSED


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
