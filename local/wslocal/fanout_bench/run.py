"""One broadcast through the local fan-out: the module's worker (`ws_bridge.fanout.handler`,
from the Lambda package) run by the gateway's poller, its queue's list jobs written as the
SDK writes them (`ws_bridge_backend.broadcast.job_bodies`), its posts answered by the stub
`@connections` endpoint. `broadcast` returns what the stub saw and what the queues and
tables kept.

Gone connections (410) have a connection record, connected long enough ago that the worker
deletes it, and a subscription to `TOPIC`; the worker must leave neither behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ws_bridge_backend import contract
from ws_bridge_backend.broadcast import job_bodies
from ws_bridge_backend.topics import Topics
from wslocal.fanout_bench.rig import STAGE, Rig
from wslocal.fanout_bench.stub import StubConnections

__all__ = ["HANDLER", "TOPIC", "Broadcast", "Outcome", "Tables", "broadcast"]

HANDLER = "ws_bridge.fanout.handler"
TOPIC = "bench"


@dataclass(frozen=True)
class Broadcast:
    """What to send and how the worker runs."""

    subscribers: Sequence[str]
    workers: int  # the mapping's maximum concurrency (reserved concurrency caps it)
    chunk: int = contract.FANOUT_MAX_IDS_PER_MESSAGE  # ids per queue message
    batch_size: int = 1  # messages per invocation
    latency: float = 0.0  # the stub's answer time per post, seconds
    gone: frozenset[str] = frozenset()
    throttled: frozenset[str] = frozenset()  # answered 429 on their first post
    crash_at: int | None = None  # after this many deliveries, kill every worker process
    timeout: float = 120.0
    data: str = "hello"
    # The worker's Timeout and its queue's visibility timeout (seconds): how long a batch
    # whose worker crashed stays away. Above the worker's 5 s reserve for its requeues.
    function_timeout: int = 30
    # Over the worker's own variables, e.g. FANOUT_CONCURRENCY.
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    seconds: float  # from the first message sent to the last delivery
    delivered: Counter[str]
    gone_records_left: int  # connection records and subscriptions of gone connections
    gone_posts: int
    throttled_posts: int
    left_in_queue: int
    dead_letters: int
    finished: bool

    def lost(self, subscribers: Sequence[str], gone: frozenset[str]) -> int:
        return sum(1 for s in subscribers if s not in gone and not self.delivered[s])

    @property
    def duplicated(self) -> int:
        return sum(n - 1 for n in self.delivered.values() if n > 1)

    @property
    def per_second(self) -> float:
        total = sum(self.delivered.values())
        return total / self.seconds if self.seconds > 0 else 0.0


class Tables:
    """The connections and subscriptions tables, as the module's `connections_table` and
    `fanout` parts create them (keys and the subscriptions' by-connection index)."""

    def __init__(self, rig: Rig) -> None:
        import boto3

        self.dynamodb: Any = boto3.client("dynamodb", region_name=rig.region)
        suffix = secrets.token_hex(3)
        self.connections = f"fanout-connections-{suffix}"
        self.subscriptions = f"fanout-subscriptions-{suffix}"
        self.dynamodb.create_table(
            TableName=self.connections,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        )
        pk, sk = contract.SUBSCRIPTIONS_PARTITION_KEY, contract.SUBSCRIPTIONS_SORT_KEY
        self.dynamodb.create_table(
            TableName=self.subscriptions,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": pk, "AttributeType": "S"},
                {"AttributeName": sk, "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": pk, "KeyType": "HASH"},
                {"AttributeName": sk, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": contract.SUBSCRIPTIONS_CONNECTION_INDEX,
                    "KeySchema": [
                        {"AttributeName": sk, "KeyType": "HASH"},
                        {"AttributeName": pk, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )

    def arns(self) -> list[str]:
        found = []
        for name in (self.connections, self.subscriptions):
            arn = self.dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
            found += [arn, f"{arn}/index/*"]
        return found

    def seed_gone(self, connection_ids: Sequence[str], topic: str) -> None:
        """Records of connections that connected a minute ago, each subscribed to `topic`."""
        now = time.time()
        topics = Topics(
            self.subscriptions, connections_table=self.connections, dynamodb=self.dynamodb
        )
        for connection_id in connection_ids:
            self.dynamodb.put_item(
                TableName=self.connections,
                Item={
                    "connectionId": {"S": connection_id},
                    "connectedAt": {"N": str(int((now - 60) * 1000))},
                    "expiresAt": {"N": str(int(now + 3600))},
                },
            )
            topics.subscribe(connection_id, topic)

    def left_of(self, connection_ids: Sequence[str]) -> int:
        """How many of `connection_ids` still have a record or a subscription."""
        wanted = set(connection_ids)
        left = 0
        for name in (self.connections, self.subscriptions):
            pages = self.dynamodb.get_paginator("scan").paginate(TableName=name)
            for page in pages:
                left += sum(1 for item in page["Items"] if item["connectionId"]["S"] in wanted)
        return left


def _kill_workers(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def broadcast(rig: Rig, tables: Tables, package: Path, plan: Broadcast) -> Outcome:
    """Deploy a worker for `plan`, start a gateway, send the broadcast, wait for every
    delivery (at most `plan.timeout`), stop, and retire the worker's mapping."""
    # Long: one run's steps in order, within the stub's and the gateway's lifetimes.
    expected = len(plan.subscribers) - len(plan.gone)
    tables.seed_gone(sorted(plan.gone), TOPIC)
    pids: list[int] = []
    with StubConnections(
        latency=plan.latency,
        gone=plan.gone,
        throttled=plan.throttled,
        on_delivery=(
            None if plan.crash_at is None else (plan.crash_at, lambda: _kill_workers(pids))
        ),
    ) as stub:
        resources = [*tables.arns()]
        worker = rig.deploy(
            f"fanout-{plan.workers}-{secrets.token_hex(3)}",
            package,
            HANDLER,
            timeout=plan.function_timeout,
            visibility_timeout=plan.function_timeout,
            batch_size=plan.batch_size,
            maximum_concurrency=max(2, plan.workers),
            reserved_concurrency=plan.workers,
            environment={
                "CONNECTIONS_TABLE": tables.connections,
                "SUBSCRIPTIONS_TABLE": tables.subscriptions,
                "CALLBACK_URL": stub.endpoint(STAGE),
                "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": stub.endpoint(STAGE),
                "LOG_LEVEL": "WARNING",
                **plan.environment,
            },
            role_actions=(
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:SendMessage",
            ),
            statements=[{"Effect": "Allow", "Action": "dynamodb:*", "Resource": resources}],
            queue_url_variable="FANOUT_QUEUE_URL",
        )
        bodies = job_bodies(plan.data, connection_ids=plan.subscribers, max_ids=plan.chunk)
        try:
            with rig.gateway(package.parent, workers=1) as gateway:
                pids[:] = gateway.worker_pids
                started = time.monotonic()
                rig.enqueue(worker.queue_url, bodies)
                finished = stub.wait_for(expected, plan.timeout)
                deadline = time.monotonic() + plan.function_timeout + 10
                while rig.count(worker.queue_url) and time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            rig.retire(worker)
        return Outcome(
            seconds=(stub.last_at or started) - started,
            delivered=Counter(stub.delivered),
            gone_records_left=tables.left_of(sorted(plan.gone)),
            gone_posts=stub.gone_posts,
            throttled_posts=stub.throttled_posts,
            left_in_queue=rig.count(worker.queue_url),
            dead_letters=rig.count(worker.dlq_url),
            finished=finished,
        )
