"""The push inside one process against its concurrency floor.

``Pusher.to_connections`` to 1,000 connections, 32 posts in flight, against a stub
``@connections`` in its own process that answers each post 10 ms after it has read it. The
floor is what concurrency alone allows: posts / in flight x latency (1,000 / 32 x 10 ms =
0.31 s). The figure is the push's time over it (goal <= 1.5). Shown for context, no goal:

- the same push through a boto3 client's ``post_to_connection`` (what the SDK did before);
- posts that cost next to nothing: 32 raw HTTP/1.1 connections on an asyncio loop, each
  writing a request and reading its answer, nothing else. What they take over the floor is
  the stub's and the loopback's share, which no client can remove;

and the CPU one post costs this process in each.

The stub is an asyncio protocol, not a threaded WSGI server: a server thread per
connection cost about 500 us of CPU a request on the 2-core machine, so that stub itself
answered at most about 2,000 posts a second and was the bound (0.49 s for 1,000 posts that
cost their client next to nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from handler_bench.measure import Figure, quiet_stdout

COUNT = 1000
LATENCY_MS = 10.0
GOAL = 1.5
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"


class _Stub(asyncio.Protocol):
    """``@connections`` on one connection: each request (``Content-Length`` bodies) answered
    with an empty 200, ``latency`` seconds after it was read."""

    latency = 0.0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            asyncio.get_running_loop().call_later(self.latency, self.transport.write, _ANSWER)


def _serve_stub(latency: float, ready: Any) -> None:
    async def main() -> None:
        _Stub.latency = latency
        server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", 0, backlog=256)
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


@contextlib.contextmanager
def serve_stub(latency: float) -> Iterator[str]:
    """The stub in a process of its own; yields its base URL."""
    context = multiprocessing.get_context("spawn")
    ready, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve_stub, args=(latency, sender), daemon=True)
    process.start()
    try:
        if not ready.poll(30):
            raise RuntimeError("the stub @connections did not start")
        yield f"http://127.0.0.1:{ready.recv()}"
    finally:
        process.terminate()
        process.join(5)


def bare_posts(url: str, count: int, in_flight: int) -> Callable[[], int]:
    """``count`` posts on ``in_flight`` raw keep-alive connections, nothing else done."""
    host, port = url.removeprefix("http://").split(":")
    request = b"POST /prod/@connections/c HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}" % (
        host.encode()
    )

    async def post_all() -> int:
        connections = [await asyncio.open_connection(host, int(port)) for _ in range(in_flight)]
        left = iter(range(count))
        done = 0

        async def work(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal done
            for _ in left:
                writer.write(request)
                await reader.readuntil(b"\r\n\r\n")  # the answer has no body
                done += 1

        await asyncio.gather(*(work(*pair) for pair in connections))
        for _, writer in connections:
            writer.close()
        return done

    return lambda: asyncio.run(post_all())


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
    with serve_stub(latency_ms / 1000) as url:
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
    ]
