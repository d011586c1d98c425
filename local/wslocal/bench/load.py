"""The load: connections opened, closed-loop traffic with every reply matched to its message,
the echo baseline driven alike, and the connection records polled."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslocal.bench.echo import with_echo_server
from wslocal.bench.report import OpenResult, PhaseResult, Report
from wslocal.devtoken import mint_token
from wslocal.stack import Stack

__all__ = ["SESSION", "USER", "print_progress", "run_load", "sessions"]

# One session per connection, as a lab has a few connections per session: the backend sends
# every reply to every connection of its session (the session protocol), so one session of
# 500 connections would turn each reply into 500 posts.
SESSION: Final = "bench"
USER: Final = "bench-user"


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
    in_flight: int,
) -> PhaseResult:
    """Send `messages` on every connection, one in flight at a time per connection and
    `in_flight` in all, and account for every reply. Replies with an id are matched to their
    message; replies without one (pongs) to the message in flight."""
    result = PhaseResult(name, expected=len(connections) * messages)
    gate = asyncio.Semaphore(in_flight)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    last_reply = time.monotonic()

    async def one(index: int, ws: ClientConnection) -> None:
        nonlocal last_reply
        for n in range(messages):
            key = f"{index}-{n}"
            async with gate:
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
                    name,
                    connections,
                    args.messages,
                    message,
                    args.reply_timeout,
                    args.grace,
                    args.in_flight,
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
                    args.in_flight,
                )
            )
        finally:
            await close_all(opened.connections, args.parallel_opens)

    await with_echo_server(echo_phase)


def print_progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
