"""Load through the local stack: many concurrent connections, every reply accounted for.

``python -m wslocal.bench`` (``make bench``) starts its own stack (emulator, Terraform apply
of examples/local, backend and gateway on free ports of 127.0.0.1), opens ``--connections``
WebSocket connections at once and sends ``--messages`` messages on each, then reports:

* replies received exactly once, lost, duplicated, and error replies;
* the records stored after the connections opened, and those left after every connection
  closed (polled for a bounded time: ``$disconnect`` deletes them);
* round-trip latency p50/p99 and throughput.

Traffic is closed-loop: each connection has one message in flight and sends the next when the
reply arrived (or after ``--reply-timeout``), so the latency is a round trip under the load
of all the other connections. Each ``command`` message carries a unique id
(``{"type":"command","command":"<connection>-<n>"}``), which the reference backend echoes, so
every reply is matched to its message.

Two baselines are measured in the same run, with the same traffic: the ``ping`` route, which
the connection handler answers without the backend (gateway + Lambda worker + handler), and a
bare ``websockets`` echo server in another process (the client and the loopback alone).
The results are printed as a table, with the latencies also as ratios to the baselines.

Exit status: 0 when every reply arrived exactly once, none was an error and no record was
left; 1 otherwise; 2 when the stack could not be started. Everything is bounded in time
(``--max-seconds``) and binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslocal.devtoken import mint_token
from wslocal.stack import (
    Stack,
    StackConfig,
    StackError,
    backend_service,
    free_port,
    gateway_service,
)

__all__ = ["PhaseResult", "main"]

# One session per connection, as a lab has a few connections per session: the backend sends
# every reply to every connection of its session (the session protocol), so one session of
# 500 connections would turn each reply into 500 posts.
SESSION: Final = "bench"
USER: Final = "bench-user"
ECHO_READY: Final = "echo ready ws://127.0.0.1:"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_NO_STACK: Final = 2


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    """One phase: `expected` messages sent, how their replies came back."""

    name: str
    expected: int
    exactly_once: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.exactly_once == self.expected
            and self.lost == 0
            and self.duplicated == 0
            and self.errors == 0
        )

    def percentile(self, fraction: float) -> float:
        """The latency (ms) below which `fraction` of the round trips fall."""
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=1000, method="inclusive")
        return cuts[max(0, min(len(cuts) - 1, round(fraction * 1000) - 1))] * 1000

    @property
    def mean(self) -> float:
        """The mean latency (ms). Closed loop, it is the connections over the throughput
        (Little's law), whatever order the messages are served in; the percentiles show
        that order (served first come, first served, p50 and p99 sit close to the mean)."""
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class OpenResult:
    connections: list[ClientConnection]
    refused: Counter[str]
    seconds: float


# ---------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------

# A reply is classified as (key, is_error): the id it answers (None when it carries none).
Classify = Callable[[str | bytes], tuple[str | None, bool]]
Message = Callable[[str], str]


def command_message(key: str) -> str:
    return json.dumps({"type": "command", "command": key}, separators=(",", ":"))


def ping_message(key: str) -> str:
    return '{"type":"ping"}'


def classify(raw: str | bytes) -> tuple[str | None, bool]:
    """Command results (and their echo) carry their id; a pong carries none; anything else,
    the handler's error replies and API Gateway's own failure messages, is an error."""
    try:
        reply = json.loads(raw)
    except ValueError:
        return None, True
    if not isinstance(reply, dict):
        return None, True
    kind = reply.get("type")
    if kind in {"command_result", "command"} and isinstance(reply.get("command"), str):
        return str(reply["command"]), False
    if kind == "pong":
        return None, False
    return None, True


async def open_connections(urls: Sequence[str], parallel: int, open_timeout: float) -> OpenResult:
    gate = asyncio.Semaphore(parallel)
    refused: Counter[str] = Counter()

    async def open_one(url: str) -> ClientConnection | None:
        async with gate:
            try:
                return await connect(
                    url,
                    open_timeout=open_timeout,
                    ping_interval=None,
                    close_timeout=10,
                    compression=None,
                    proxy=None,
                    max_queue=None,
                )
            except InvalidStatus as rejected:
                refused[f"HTTP {rejected.response.status_code}"] += 1
            except (OSError, TimeoutError) as failed:
                refused[type(failed).__name__] += 1
            return None

    started = time.monotonic()
    opened = await asyncio.gather(*(open_one(url) for url in urls))
    return OpenResult([ws for ws in opened if ws is not None], refused, time.monotonic() - started)


async def drive(
    name: str,
    connections: Sequence[ClientConnection],
    messages: int,
    message: Message,
    reply_timeout: float,
    grace: float,
) -> PhaseResult:
    """Send `messages` on every connection, one in flight at a time, and account for every
    reply. Replies with an id are matched to their message; replies without one (pongs) to
    the message in flight."""
    result = PhaseResult(name, expected=len(connections) * messages)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    last_reply = time.monotonic()

    async def one(index: int, ws: ClientConnection) -> None:
        nonlocal last_reply
        for n in range(messages):
            key = f"{index}-{n}"
            sent = time.perf_counter()
            try:
                await ws.send(message(key))
                async with asyncio.timeout(reply_timeout):
                    while True:
                        answered, failed = classify(await ws.recv())
                        answered = key if answered is None else answered
                        counts[answered] += 1
                        if failed:
                            errors[answered] += 1
                        if answered == key:
                            result.latencies.append(time.perf_counter() - sent)
                            last_reply = max(last_reply, time.monotonic())
                            break
            except (TimeoutError, ConnectionClosed):
                if ws.state.name != "OPEN":
                    return  # the rest of this connection's messages are lost
        # late replies: duplicates of what was already answered, or strays
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            async with asyncio.timeout(grace):
                while True:
                    answered, failed = classify(await ws.recv())
                    counts[answered or f"{index}-stray"] += 1

    started = last_reply = time.monotonic()
    await asyncio.gather(*(one(index, ws) for index, ws in enumerate(connections)))
    result.seconds = last_reply - started  # the grace period is not traffic
    expected_keys = {f"{i}-{n}" for i in range(len(connections)) for n in range(messages)}
    result.exactly_once = sum(1 for key in expected_keys if counts[key] == 1 and errors[key] == 0)
    result.lost = sum(1 for key in expected_keys if counts[key] == 0)
    result.duplicated = sum(count - 1 for count in counts.values() if count > 1) + sum(
        count for key, count in counts.items() if key not in expected_keys
    )
    result.errors = sum(errors.values())
    return result


async def close_all(connections: Sequence[ClientConnection], parallel: int) -> None:
    gate = asyncio.Semaphore(parallel)

    async def close_one(ws: ClientConnection) -> None:
        async with gate:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close()

    await asyncio.gather(*(close_one(ws) for ws in connections))


# ---------------------------------------------------------------------------------------
# The echo baseline (a separate process, so that it does not share this event loop)
# ---------------------------------------------------------------------------------------


async def echo_server() -> None:
    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"{ECHO_READY}{port}", flush=True)
        with contextlib.suppress(EOFError):
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def with_echo_server[T](run: Callable[[str], Awaitable[T]]) -> T:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wslocal.bench",
        "--echo-server",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        if not line.startswith(ECHO_READY):
            raise RuntimeError(f"the echo server did not start: {line!r}")
        return await run(f"ws://127.0.0.1:{int(line[len(ECHO_READY) :])}")
    finally:
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


@dataclass
class Report:
    connections: int
    messages: int
    workers: int
    opened: OpenResult | None = None
    stored: int = 0
    phases: list[PhaseResult] = field(default_factory=list)
    left: int | None = None
    left_after_seconds: float = 0.0
    echo_refused: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return (
            self.opened is not None
            and not self.opened.refused
            and not self.echo_refused
            and self.stored == self.connections
            and all(phase.ok for phase in self.phases)
            and self.left == 0
        )


def record_count(stack: Stack) -> int:
    dynamodb = stack.client("dynamodb")
    table = stack.outputs.table_name
    total, start = 0, None
    while True:
        arguments = {"TableName": table, "Select": "COUNT"}
        if start is not None:
            arguments["ExclusiveStartKey"] = start
        page = dynamodb.scan(**arguments)
        total += int(page["Count"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


async def wait_for_records(
    stack: Stack, wanted: Callable[[int], bool], timeout: float
) -> tuple[int, float]:
    """Poll the table until `wanted(count)` or `timeout`; returns the count and the wait."""
    started = time.monotonic()
    while True:
        count = await asyncio.to_thread(record_count, stack)
        waited = time.monotonic() - started
        if wanted(count) or waited > timeout:
            return count, waited
        await asyncio.sleep(0.25)


def sessions(count: int) -> list[str]:
    return [f"{SESSION}-{n}" for n in range(count)]


async def run_load(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    urls = [
        f"{stack.outputs.local_websocket_url}?token="
        + mint_token(stack.jwt_secret, sub=USER, session_id=session, ttl_seconds=3600)
        for session in sessions(args.connections)
    ]
    progress = print_progress
    progress(f"opening {args.connections} connections")
    report.opened = await open_connections(urls, args.parallel_opens, args.reply_timeout)
    connections = report.opened.connections
    report.stored, _ = await wait_for_records(stack, lambda count: count >= len(connections), 10)
    try:
        for name, message in (
            ("command (backend)", command_message),
            ("ping (handler only)", ping_message),
        ):
            progress(f"{name}: {args.messages} messages on each connection")
            report.phases.append(
                await drive(
                    name, connections, args.messages, message, args.reply_timeout, args.grace
                )
            )
    finally:
        progress("closing every connection")
        await close_all(connections, args.parallel_opens)
    report.left, report.left_after_seconds = await wait_for_records(
        stack, lambda count: count == 0, args.records_timeout
    )

    async def echo_phase(echo_url: str) -> None:
        progress("echo baseline")
        opened = await open_connections(
            [echo_url] * args.connections, args.parallel_opens, args.reply_timeout
        )
        report.echo_refused = opened.refused
        try:
            report.phases.append(
                await drive(
                    "echo (bare websockets)",
                    opened.connections,
                    args.messages,
                    command_message,
                    args.reply_timeout,
                    args.grace,
                )
            )
        finally:
            await close_all(opened.connections, args.parallel_opens)

    await with_echo_server(echo_phase)


def print_progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _ms(value: float) -> str:
    return f"{value:8.1f}"


def render(report: Report, elapsed: float) -> str:
    lines = [
        f"wslocal.bench: {report.connections} connections x {report.messages} messages, "
        "closed loop (one message in flight per connection)",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"gateway workers per function: {report.workers}",
        "",
    ]
    opened = report.opened
    if opened is not None:
        count = len(opened.connections)
        refused = ", ".join(f"{n} {why}" for why, n in sorted(opened.refused.items())) or "none"
        lines += [
            f"connect: {count} opened in {opened.seconds:.1f} s "
            f"({count / opened.seconds if opened.seconds else 0:.0f}/s), refused: {refused}",
            f"records stored after connect: {report.stored} (want {report.connections})",
            "",
        ]
    header = (
        f"{'phase':<24}{'sent':>7}{'exactly once':>14}{'lost':>6}{'dup':>5}{'errors':>8}"
        f"{'msg/s':>8}{'mean ms':>9}{'p50 ms':>9}{'p99 ms':>9}"
    )
    lines += [header, "-" * len(header)]
    for phase in report.phases:
        lines.append(
            f"{phase.name:<24}{phase.expected:>7}{phase.exactly_once:>14}{phase.lost:>6}"
            f"{phase.duplicated:>5}{phase.errors:>8}{phase.rate:>8.0f}{_ms(phase.mean):>9}"
            f"{_ms(phase.percentile(0.50)):>9}{_ms(phase.percentile(0.99)):>9}"
        )
    by_name = {phase.name.split()[0]: phase for phase in report.phases}
    command = by_name.get("command")
    if command is not None and command.latencies:
        lines.append("")
        for baseline in ("ping", "echo"):
            base = by_name.get(baseline)
            if base is not None and base.latencies:
                p50 = command.percentile(0.5) / base.percentile(0.5)
                p99 = command.percentile(0.99) / base.percentile(0.99)
                lines.append(
                    f"command vs {baseline}: mean x{command.mean / base.mean:.1f}, "
                    f"p50 x{p50:.1f}, p99 x{p99:.1f}, "
                    f"throughput x{command.rate / base.rate:.2f}"
                )
    lines.append("")
    if report.left is not None:
        lines.append(
            f"records left after every connection closed: {report.left} "
            f"(polled {report.left_after_seconds:.1f} s)"
        )
    lines += [
        f"total time: {elapsed:.0f} s",
        f"result: {'OK' if report.ok else 'FAILED'}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.bench",
        description="Load through the local stack: concurrent connections, every reply "
        "matched to its message, records checked, latency against two baselines.",
    )
    parser.add_argument("--connections", type=int, default=500, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=20, help="messages per connection")
    parser.add_argument("--workers", type=int, default=8, help="gateway workers per function")
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
        "--records-timeout", type=float, default=60.0, help="seconds to wait for no records"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="bound of the whole load run"
    )
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("connections", "messages", "workers", "parallel_opens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.echo_server:
        asyncio.run(echo_server())
        return EXIT_OK
    started = time.monotonic()
    report = Report(args.connections, args.messages, args.workers)
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


if __name__ == "__main__":
    sys.exit(main())
