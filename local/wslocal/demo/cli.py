"""``python -m wslocal.demo`` (``make demo``): its flags and exit status."""

from __future__ import annotations

import argparse
import sys
from typing import Final

from wslocal.demo.context import DemoFailed
from wslocal.demo.ports import DEFAULT_PORTS, choose_ports
from wslocal.demo.runner import run
from wslocal.stack.interrupts import unwind_on_signals

__all__ = ["EXIT_USAGE", "main"]

EXIT_USAGE: Final = 64


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.demo",
        description="Apply the module to a local emulator, hold a scripted WebSocket session "
        "through it, and tear everything down.",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the session, keep the stack up until Ctrl-C and print how to explore it",
    )
    parser.add_argument(
        "--session-store",
        action="store_true",
        help="keep the backend's session state in a local Redis server (the distribution's "
        "redis-server or valkey-server) and show it",
    )
    parser.add_argument(
        "--no-topics",
        action="store_true",
        help="apply examples/local without its fan-out part and skip the topic step (the "
        "apply and destroy take about 50 s less)",
    )
    for name, default in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=None,
            metavar="PORT",
            help=f"default {default} (a free one when taken); 0: any free port",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    requested = {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}
    if any(p is not None and not 0 <= p <= 65535 for p in requested.values()):
        print("error: ports range from 0 to 65535", file=sys.stderr)
        return EXIT_USAGE
    try:
        ports, notes = choose_ports(requested)
    except DemoFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM unwinds like Ctrl-C (teardown runs); SIGINT too when inherited as ignored.
    unwind_on_signals()
    print("wslocal demo: the module applied to a local emulator, one WebSocket session through it")
    print(
        "ports: emulator {emulator}, gateway {gateway} (WebSocket) and {connections} "
        "(@connections), backend {backend}".format(**ports)
    )
    for note in notes:
        print(f"note: {note}")
    sys.stdout.flush()
    return run(
        ports,
        keep_running=args.keep_running,
        session_store=args.session_store,
        topics=not args.no_topics,
    )
