"""``python -m wslocal.reference_backend``: the reference backend for the local stack.

    python -m wslocal.reference_backend --port 8081 --table ws-connections \\
        --callback-url http://127.0.0.1:8080/local --signing-secret-arn arn:aws:... \\
        --session lab-1:alice [--subscriptions-table T --fanout-queue-url URL]

It prints ``backend ready http://127.0.0.1:<port>`` once it accepts requests, binds 127.0.0.1
only, and stops cleanly on SIGTERM or SIGINT. AWS endpoints (Secrets Manager, DynamoDB) come
from boto3's own ``AWS_ENDPOINT_URL`` handling; ``@connections`` calls go to ``--callback-url``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from ws_bridge.logs import JsonFormatter
from ws_bridge_backend.broadcast import DIRECT_THRESHOLD
from ws_bridge_backend.control import SessionControl
from ws_bridge_backend.delivery import PusherDelivery
from ws_bridge_backend.topics import Topics
from wslocal.reference_backend.aws import (
    assume_backend_role,
    sdk_pusher,
    session_layer,
    signing_gate,
)
from wslocal.reference_backend.contract import Backend, parse_session_flag
from wslocal.reference_backend.http import backend_server
from wslocal.reference_backend.topics import TopicDesk
from wslocal.session_state import SessionStateError, open_session_state

__all__ = ["main"]

LOGGER = logging.getLogger("wslocal.reference_backend")

# Flags of earlier versions that verified the bearer token on validate: the handler's signed
# validate call now carries the identity the authorizer verified, so they change nothing and
# are accepted only so that older command lines keep working.
IGNORED_TOKEN_FLAGS = (
    "--jwt-secret",
    "--jwt-secret-arn",
    "--jwks-url",
    "--jwks-ca-file",
    "--jwt-algorithm",
    "--jwt-issuer",
    "--jwt-audience",
    "--jwt-leeway-seconds",
    "--user-claim",
    "--session-claim",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.reference_backend",
        description="Reference backend of the local stack: a test double (local development "
        "and tests only; nothing deploys it).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--table", help="connections table (enables push)")
    parser.add_argument("--callback-url", help="@connections base URL: http://127.0.0.1:M/STAGE")
    parser.add_argument(
        "--role-arn", help="push (DynamoDB, @connections) with this role's temporary credentials"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or None,
        help="keep session state, streams and request ids in this Redis (default $REDIS_URL; "
        "unset: in memory)",
    )
    parser.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="ID:USER",
        help="create session ID with member USER (repeatable)",
    )
    parser.add_argument(
        "--signing-secret-arn",
        metavar="ARN",
        help="Secrets Manager secret of the handler's request signatures: validate, message "
        "and disconnect requests that are unsigned, wrongly signed, stale or replayed get 401",
    )
    parser.add_argument(
        "--key-ttl-seconds",
        type=float,
        default=300.0,
        help="re-read the signing keys this often (at most the handler's key_refresh_seconds)",
    )
    parser.add_argument(
        "--subscriptions-table",
        help="the fan-out's subscriptions table: clients subscribe to topics, and "
        "POST /api/admin/broadcast sends to them (needs --table)",
    )
    parser.add_argument(
        "--fanout-queue-url",
        help="the fan-out queue: a broadcast to more than --direct-threshold subscribers goes "
        "through it to the module's worker",
    )
    parser.add_argument(
        "--direct-threshold",
        type=int,
        default=DIRECT_THRESHOLD,
        help=f"largest audience pushed to directly (default {DIRECT_THRESHOLD}; a broadcast "
        "may set its own with directThreshold)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    for flag in IGNORED_TOKEN_FLAGS:
        parser.add_argument(flag, action="append", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.table and not args.callback_url:
        parser.error("--table needs --callback-url")
    if args.subscriptions_table and not args.table:
        parser.error("--subscriptions-table needs --table")
    if args.fanout_queue_url and not args.subscriptions_table:
        parser.error("--fanout-queue-url needs --subscriptions-table")
    if args.direct_threshold < 0:
        parser.error("--direct-threshold must be >= 0")
    try:
        sessions = [parse_session_flag(value) for value in args.session]
    except ValueError as err:
        parser.error(str(err))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    if args.role_arn:
        # The role's own permissions from here on: the signing key, DynamoDB, @connections.
        assume_backend_role(args.role_arn)
    gate = (
        signing_gate(args.signing_secret_arn, args.key_ttl_seconds)
        if args.signing_secret_arn
        else None
    )
    pusher = sdk_pusher(args.table, args.callback_url) if args.table else None
    try:
        state = open_session_state(args.redis_url)
    except SessionStateError as err:
        print(f"backend: error: session state: {err}", file=sys.stderr, flush=True)
        return 1
    layer = session_layer(args.redis_url, PusherDelivery(pusher) if pusher else None)
    control = SessionControl(pusher) if pusher else None
    topics = (
        TopicDesk(
            Topics(args.subscriptions_table, connections_table=args.table),
            pusher,
            queue_url=args.fanout_queue_url,
            direct_threshold=args.direct_threshold,
        )
        if args.subscriptions_table
        else None
    )
    backend = Backend(
        layer=layer, control=control, sessions=sessions, gate=gate, state=state, topics=topics
    )
    server = backend_server(backend, args.port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        backend.stopping.set()
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"backend ready {server.url}", flush=True)
    server.serve()
    LOGGER.info("stopped")
    return 0
