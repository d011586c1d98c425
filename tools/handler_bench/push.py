"""The push inside one process against its concurrency floor.

``Pusher.to_connections`` to 1,000 connections, 32 posts in flight, against a stub
``@connections`` in its own process that takes 10 ms to answer each post. The floor is what
concurrency alone allows: posts / in flight x latency (1,000 / 32 x 10 ms = 0.31 s). The
figure is the push's time over it (goal <= 1.5). Shown for context, no goal: the same push
through a boto3 client's ``post_to_connection`` (what the SDK did before), and the CPU one
post costs this process in each.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from handler_bench.measure import Figure, quiet_stdout, serve

COUNT = 1000
LATENCY_MS = 10.0
GOAL = 1.5


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
    with serve(latency_ms / 1000) as url:
        # The registry is only asked after a 410, which the stub never answers.
        dynamodb = boto3.client("dynamodb", endpoint_url=url)
        registry = ConnectionRegistry("bench", dynamodb=dynamodb)
        pushers: dict[str, Any] = {
            "sdk": Pusher(registry, f"{url}/prod"),
            "boto3": Pusher(
                registry,
                management=boto3.client(
                    "apigatewaymanagementapi",
                    endpoint_url=f"{url}/prod",
                    config=MANAGEMENT_API_CONFIG,
                ),
            ),
        }
        seconds: dict[str, list[float]] = {name: [] for name in pushers}
        cpu: dict[str, list[float]] = {name: [] for name in pushers}
        with quiet_stdout():
            for pusher in pushers.values():
                pusher.to_connections(connections, data)  # warm the pools
            for repetition in range(repetitions):
                order = list(pushers.items())
                for name, pusher in order[repetition % 2 :] + order[: repetition % 2]:
                    used, started = time.process_time(), time.perf_counter()
                    result = pusher.to_connections(connections, data)
                    seconds[name].append(time.perf_counter() - started)
                    cpu[name].append((time.process_time() - used) / COUNT)
                    assert result.sent == COUNT, result
    detail = (
        f"{{:.2f}} s vs floor {floor:.2f} s ({COUNT} posts / {PUSH_CONCURRENCY} in flight x "
        f"{latency_ms:g} ms), {{:.0f}} us CPU a post"
    )
    return [
        Figure(
            f"push {COUNT} / floor",
            GOAL,
            [value / floor for value in seconds["sdk"]],
            detail.format(statistics.median(seconds["sdk"]), statistics.median(cpu["sdk"]) * 1e6),
        ),
        Figure(
            "push via boto3 client / floor",
            None,
            [value / floor for value in seconds["boto3"]],
            "context only: "
            + detail.format(
                statistics.median(seconds["boto3"]), statistics.median(cpu["boto3"]) * 1e6
            ),
        ),
    ]
