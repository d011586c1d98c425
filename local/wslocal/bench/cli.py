"""``python -m wslocal.bench``: the flags, the stack it starts, the bounded run, the exit
status (the package's documentation)."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Sequence
from typing import Final

from wslocal.bench.echo import echo_server
from wslocal.bench.load import USER, print_progress, run_load, sessions
from wslocal.bench.report import Report, render
from wslocal.stack import (
    Stack,
    StackConfig,
    StackError,
    backend_service,
    free_port,
    gateway_service,
)

__all__ = ["main", "parse_args"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_NO_STACK: Final = 2
# 2,000 connections open at once, 2 messages on each, at most 100 messages in flight. With
# 2,000 connections the command route is bound by the emulator: moto answers the backend's
# query of the session index by scanning the whole table (17 ms at 2,000 records), about
# 25 replies a second, so more in flight only queues past the handler's 10 s backend
# timeout (docs/performance.md). 4,000 messages a phase: a few minutes with the stack.
CONNECTIONS: Final = 2000
MESSAGES: Final = 2
IN_FLIGHT: Final = 100
# Four workers per function: eight, all started at once, did not all finish their 10 s init
# on two cores shared with other work; the emulator, not the workers, bounds the load here.
WORKERS: Final = 4
# Descriptors per connection across this process and the stack's (the client's socket, the
# gateway's, the worker's pipes): the soft limit is raised to the hard one, and a run that
# would still not fit is refused before it starts.
DESCRIPTORS_PER_CONNECTION: Final = 2


def raise_descriptor_limit(connections: int) -> str | None:
    """Raise this process's open-file limit to its hard limit (the stack's processes inherit
    it); the reason, when ``connections`` still cannot fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections * DESCRIPTORS_PER_CONNECTION + 256
    wanted = max(soft, needed) if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    if soft < needed:
        return f"{connections} connections need about {needed} open files; the limit is {soft}"
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.bench",
        description="Load through the local stack: concurrent connections, every reply "
        "matched to its message, records checked, latency against two baselines.",
    )
    parser.add_argument(
        "--connections", type=int, default=CONNECTIONS, help="concurrent connections"
    )
    parser.add_argument("--messages", type=int, default=MESSAGES, help="messages per connection")
    parser.add_argument(
        "--in-flight", type=int, default=IN_FLIGHT, help="messages in flight, all connections"
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="gateway workers per function")
    parser.add_argument(
        "--parallel-opens", type=int, default=50, help="handshakes (and closes) in flight"
    )
    parser.add_argument(
        "--reply-timeout", type=float, default=29.0, help="seconds to wait for one reply"
    )
    parser.add_argument(
        "--grace", type=float, default=1.0, help="seconds to listen for late duplicates"
    )
    parser.add_argument(
        "--records-timeout", type=float, default=180.0, help="seconds to wait for no records"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="bound of the whole load run"
    )
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("connections", "messages", "in_flight", "workers", "parallel_opens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.echo_server:
        asyncio.run(echo_server())
        return EXIT_OK
    short = raise_descriptor_limit(args.connections)
    if short is not None:
        print(f"bench: {short} (ulimit -n)", file=sys.stderr)
        return EXIT_NO_STACK
    started = time.monotonic()
    report = Report(args.connections, args.messages, args.workers, args.in_flight)
    config = StackConfig(
        emulator_port=free_port(),
        gateway_port=free_port(),
        backend_port=free_port(),
        connections_port=free_port(),
        name="ws-bench",
        services=(
            backend_service(tuple(f"{session}:{USER}" for session in sessions(args.connections))),
            gateway_service(("--workers", str(args.workers))),
        ),
        progress=print_progress,
    )

    async def bounded(stack: Stack) -> None:
        async with asyncio.timeout(args.max_seconds):
            await run_load(stack, args, report)

    try:
        with Stack(config) as stack:
            asyncio.run(bounded(stack))
    except StackError as error:
        print(f"bench: the stack failed: {error}", file=sys.stderr)
        return EXIT_NO_STACK
    except TimeoutError:
        print(f"bench: gave up after --max-seconds {args.max_seconds:.0f}", file=sys.stderr)
        print(render(report, time.monotonic() - started))
        return EXIT_FAILED
    print(render(report, time.monotonic() - started))
    return EXIT_OK if report.ok else EXIT_FAILED
