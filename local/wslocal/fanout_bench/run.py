"""One broadcast through the local fan-out: the subscribers' ids in chunks, one SQS message
per chunk, delivered by the worker function the gateway's poller runs, to the stub
`@connections` endpoint. `broadcast` returns what the stub saw and what the queues kept."""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wslocal.fanout_bench.rig import STAGE, Rig
from wslocal.fanout_bench.stub import StubConnections

__all__ = ["DOUBLE_HANDLER", "Broadcast", "Outcome", "broadcast", "chunks"]

DOUBLE_HANDLER = "worker_double.handler"


@dataclass(frozen=True)
class Broadcast:
    """What to send and how the worker runs."""

    subscribers: Sequence[str]
    workers: int  # the mapping's maximum concurrency (reserved concurrency 1 for one)
    chunk: int = 50  # subscribers per SQS message
    batch_size: int = 5  # messages per invocation
    latency: float = 0.0  # the stub's answer time per post, seconds
    gone: frozenset[str] = frozenset()
    throttled: frozenset[str] = frozenset()  # answered 429 on their first post
    crash: Mapping[int, int] = field(default_factory=dict)  # chunk index -> crash after k
    timeout: float = 120.0
    data: str = "hello"
    # The worker's Timeout and its queue's visibility timeout (seconds): how long a batch
    # whose worker crashed stays away.
    function_timeout: int = 30


@dataclass
class Outcome:
    seconds: float  # from the first message sent to the last delivery
    delivered: Counter[str]
    records_left: set[str]
    gone_posts: int
    throttled_posts: int
    left_in_queue: int
    dead_letters: int
    finished: bool

    @property
    def per_second(self) -> float:
        return sum(self.delivered.values()) / self.seconds if self.seconds > 0 else 0.0


def chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def broadcast(
    rig: Rig,
    package: Path,
    plan: Broadcast,
    *,
    handler: str = DOUBLE_HANDLER,
    environment: Mapping[str, str] | None = None,
) -> Outcome:
    """Deploy a worker for `plan`, start a gateway, send the broadcast, wait for every
    delivery (at most `plan.timeout`), stop, and retire the worker's mapping."""
    expected = len(plan.subscribers) - len(plan.gone)
    with StubConnections(
        latency=plan.latency,
        gone=plan.gone,
        throttled=plan.throttled,
        throttled_attempts=1,
        records=plan.subscribers,
    ) as stub:
        worker = rig.deploy(
            f"fanout-{plan.workers}-{secrets.token_hex(3)}",
            package,
            handler,
            timeout=plan.function_timeout,
            visibility_timeout=plan.function_timeout,
            batch_size=plan.batch_size,
            maximum_concurrency=max(2, plan.workers),
            reserved_concurrency=plan.workers,
            environment={
                "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": stub.endpoint(STAGE),
                **(environment or {}),
            },
        )
        bodies = []
        for index, ids in enumerate(chunks(plan.subscribers, plan.chunk)):
            body: dict[str, object] = {"data": plan.data, "connectionIds": ids}
            if index in plan.crash:
                body["crashAfter"] = plan.crash[index]
            bodies.append(json.dumps(body))
        try:
            with rig.gateway(package.parent, workers=1):
                started = time.monotonic()
                rig.enqueue(worker.queue_url, bodies)
                finished = stub.wait_for(expected, plan.timeout)
                deadline = time.monotonic() + 10
                while rig.count(worker.queue_url) and time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            rig.retire(worker)
        return Outcome(
            seconds=(stub.last_at or started) - started,
            delivered=Counter(stub.delivered),
            records_left=set(stub.records),
            gone_posts=stub.gone_posts,
            throttled_posts=stub.throttled_posts,
            left_in_queue=rig.count(worker.queue_url),
            dead_letters=rig.count(worker.dlq_url),
            finished=finished,
        )
