"""``python -m wslocal.browser_demo`` (the stack, the page, until Ctrl-C) and
``python -m wslocal.browser_demo serve`` (the page's server alone)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from wslocal.browser_demo.app import DemoApp, DemoSettings, serve
from wslocal.browser_demo.service import DEFAULT_SESSIONS, demo_service
from wslocal.devtoken import read_secret
from wslocal.stack import Stack, StackConfig, backend_service, gateway_service

__all__ = ["main"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def serve_page(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        ws_url=args.ws_url,
        backend_url=args.backend_url.rstrip("/"),
        callback_url=args.callback_url,
        jwt_secret=read_secret(args.jwt_secret_arn),
        sessions=tuple(args.session),
    )
    server = serve(DemoApp(settings), args.port)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"browser-demo ready {server.url}", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def up(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        print(f"[stack] {message}", file=sys.stderr, flush=True)

    sessions = tuple(args.session) or DEFAULT_SESSIONS
    config = StackConfig(
        emulator_port=args.emulator_port,
        gateway_port=args.gateway_port,
        backend_port=args.backend_port,
        connections_port=args.connections_port,
        name="ws-browser",
        # The browser setup: no identity source, so a token offered only as the `bearer`
        # subprotocol reaches the authorizer (which then runs on every connect).
        variables={"identity_sources": []},
        services=(backend_service(sessions), gateway_service(), demo_service(sessions, args.port)),
        progress=progress,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with Stack(config) as stack:
            print(f"demo page: http://127.0.0.1:{stack.service_ports['browser-demo']}/", flush=True)
            progress("up; Ctrl-C tears it down")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        progress("stopped")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.browser_demo",
        description="The browser client's demo page next to the local stack (local only).",
    )
    parser.add_argument("--session", action="append", default=[], metavar="ID:USER")
    parser.add_argument("--port", type=int, default=8090, help="the page's port")
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--backend-port", type=int, default=8081)
    parser.add_argument("--connections-port", type=int, default=8082)
    commands = parser.add_subparsers(dest="command")
    server = commands.add_parser("serve", help="only the page's server, for a running stack")
    server.add_argument("--port", type=int, default=0, help="0: any free port")
    server.add_argument("--ws-url", required=True)
    server.add_argument("--backend-url", required=True)
    server.add_argument("--callback-url", required=True)
    server.add_argument("--jwt-secret-arn", required=True)
    server.add_argument("--session", action="append", default=[], metavar="ID:USER")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve_page(args)
    return up(args)
