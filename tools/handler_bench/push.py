"""The push inside one process against its concurrency floor.

``Pusher.to_connections`` to 1,000 connections, 32 posts in flight, against a stub
``@connections`` in its own process that answers each post 10 ms after it has read it. The
floor is what concurrency alone allows: posts / in flight x latency (1,000 / 32 x 10 ms =
0.31 s). The figure is the push's time over it (goal <= 1.5). Shown for context, no goal:

- the same push through a boto3 client's ``post_to_connection`` (what the SDK did before);
- posts that cost next to nothing: 32 raw HTTP/1.1 connections on an asyncio loop, each
  writing a request and reading its answer, nothing else. What they take over the floor is
  the stub's and the loopback's share, which no client can remove;
- the fan-out worker's posts (``ws_bridge.fanout.post_all``, 32 threads, as in the Lambda
  package): signed and sent straight into the client's urllib3 pool
  (``ws_bridge.connections_post``), and through the boto3 client itself;

and the CPU one post costs this process in each.

The stub is `wslocal.stub_server` (one asyncio loop), not a threaded WSGI server: a server
thread per connection cost about 500 us of CPU a request on the 2-core machine, so that stub
itself answered at most about 2,000 posts a second and was the bound (0.49 s for 1,000 posts
that cost their client next to nothing).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from handler_bench.measure import Figure, quiet_stdout, spawned
from wslocal.stub_server import StubServer

COUNT = 1000
LATENCY_MS = 10.0
GOAL = 1.5


def _respond(method: str, path: str, body: bytes) -> tuple[int, bytes]:
    return 200, b""


def _serve_stub(latency: float, ready: Any) -> None:
    stub = StubServer(_respond, delay=latency, name="bench-connections").start()
    ready.send(stub.port)
    threading.Event().wait()  # until the parent terminates this process


def bare_posts(url: str, count: int, in_flight: int) -> Callable[[], int]:
    """``count`` posts on ``in_flight`` raw keep-alive connections, nothing else done: the
    connections opened at the first call and kept, as the pushers keep theirs."""
    host, port = url.removeprefix("http://").split(":")
    request = b"POST /prod/@connections/c HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}" % (
        host.encode()
    )
    loop = asyncio.new_event_loop()  # lives as long as the process, as do the pools
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post_all() -> int:
        if not connections:
            for _ in range(in_flight):
                connections.append(await asyncio.open_connection(host, int(port)))
        left = iter(range(count))
        done = 0

        async def work(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal done
            for _ in left:
                writer.write(request)
                await reader.readuntil(b"\r\n\r\n")  # the answer has no body
                done += 1

        await asyncio.gather(*(work(*pair) for pair in connections))
        return done

    return lambda: loop.run_until_complete(post_all())


# Long: one stub, both pushers and their runs interleaved (A, B, B, A...) so that both
# figures come from the same samples of the same machine's load.
def push_figures(repetitions: int, latency_ms: float = LATENCY_MS) -> list[Figure]:
    import boto3

    from ws_bridge_backend.push import MANAGEMENT_API_CONFIG, PUSH_CONCURRENCY, Pusher
    from ws_bridge_backend.registry import ConnectionRecord, ConnectionRegistry

    fake = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}  # a local stub
    os.environ.update(fake, AWS_DEFAULT_REGION="us-east-1")
    floor = COUNT / PUSH_CONCURRENCY * latency_ms / 1000
    expires = int(time.time()) + 3600
    connections = [
        ConnectionRecord(f"c-{i:04d}=", "lab-1", "alice", 0, expires) for i in range(COUNT)
    ]
    data = b'{"type":"notice","text":"hello"}'
    with spawned(_serve_stub, latency_ms / 1000) as url:
        # The registry is only asked after a 410, which the stub never answers.
        dynamodb = boto3.client("dynamodb", endpoint_url=url)
        registry = ConnectionRegistry("bench", dynamodb=dynamodb)
        sdk = Pusher(registry, f"{url}/prod")
        client = Pusher(
            registry,
            management=boto3.client(
                "apigatewaymanagementapi", endpoint_url=f"{url}/prod", config=MANAGEMENT_API_CONFIG
            ),
        )
        variants: dict[str, Callable[[], int]] = {
            "sdk": lambda: sdk.to_connections(connections, data).sent,
            "boto3": lambda: client.to_connections(connections, data).sent,
            "bare": bare_posts(url, COUNT, PUSH_CONCURRENCY),
            **worker_posts(f"{url}/prod", [c.connection_id for c in connections], data),
        }
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        with quiet_stdout():
            for variant in variants.values():
                variant()  # warm the pools
            for repetition in range(repetitions):
                order = list(variants.items())
                turn = repetition % len(order)
                for name, variant in order[turn:] + order[:turn]:
                    used, started = time.process_time(), time.perf_counter()
                    sent = variant()
                    seconds[name].append(time.perf_counter() - started)
                    cpu[name].append((time.process_time() - used) / COUNT)
                    assert sent == COUNT, (name, sent)
        sdk.close()
        client.close()

    def figure(name: str, variant: str, goal: float | None) -> Figure:
        detail = (
            f"{statistics.median(seconds[variant]):.2f} s vs floor {floor:.2f} s ({COUNT} "
            f"posts / {PUSH_CONCURRENCY} in flight x {latency_ms:g} ms), "
            f"{statistics.median(cpu[variant]) * 1e6:.0f} us CPU a post"
        )
        return Figure(
            name,
            goal,
            [value / floor for value in seconds[variant]],
            detail if goal is not None else f"context only: {detail}",
        )

    return [
        figure(f"push {COUNT} / floor", "sdk", GOAL),
        figure("push via boto3 client / floor", "boto3", None),
        figure("bare posts / floor", "bare", None),
        figure("fan-out worker posts / floor", "worker", None),
        figure("worker via boto3 client / floor", "worker-boto3", None),
    ]


def worker_posts(endpoint: str, ids: list[str], data: bytes) -> dict[str, Callable[[], int]]:
    """The fan-out worker's ``post_all`` over 32 threads, with and without its poster."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from ws_bridge import aws, fanout
    from ws_bridge.connections_post import ConnectionsPoster
    from ws_bridge.settings import FanoutSettings

    threads = FanoutSettings("", "", endpoint, "").concurrency  # FANOUT_CONCURRENCY's default
    management = aws.management_api(endpoint, threads)
    poster = ConnectionsPoster.for_client(management, boto3.Session().get_credentials())
    pool = ThreadPoolExecutor(threads)  # lives as long as the process

    def run(with_poster: bool) -> int:
        deadline = time.monotonic() + 60
        chosen = poster if with_poster else None
        posts = fanout.post_all(management, ids, data, pool=pool, deadline=deadline, poster=chosen)
        return posts.sent

    return {"worker": lambda: run(True), "worker-boto3": lambda: run(False)}
