"""Broadcasts (``ws_bridge_backend.broadcast``) against moto's DynamoDB, SQS and @connections:
a small audience is pushed to at once, a large one becomes queue jobs the fan-out worker
reads (``ws_bridge.fanout_jobs``), in batches SQS accepts."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from bridge_fakes import REGION, SUBSCRIPTIONS, create_subscriptions_table
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ws_bridge import connections_table
from ws_bridge.fanout_jobs import Job, parse_job
from ws_bridge_backend.broadcast import Broadcaster, BroadcastError, job_bodies
from ws_bridge_backend.push import Pusher
from ws_bridge_backend.registry import ConnectionRegistry
from ws_bridge_backend.topics import Topics

ENDPOINT = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"


@pytest.fixture
def queue_url(table: str) -> str:
    create_subscriptions_table()
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName="fanout")["QueueUrl"]


def posted() -> set[str]:
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    return {unquote(key.rsplit("/", 1)[-1]) for key in backend.connections}


def queued(queue_url: str) -> list[Job]:
    sqs = boto3.client("sqs", region_name=REGION)
    jobs: list[Job] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return jobs
        for message in batch:
            job = parse_job(message["Body"])
            assert isinstance(job, Job), job
            jobs.append(job)


def make(table: str, queue_url: str | None, threshold: int = 3, max_ids: int = 4) -> Broadcaster:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    registry = ConnectionRegistry(table, dynamodb=dynamodb)
    management = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION)
    return Broadcaster(
        Pusher(registry, management=management),
        Topics(SUBSCRIPTIONS, shards=4, dynamodb=dynamodb),
        queue_url=queue_url,
        sqs=None if queue_url is None else boto3.client("sqs", region_name=REGION),
        direct_threshold=threshold,
        max_ids_per_message=max_ids,
    )


def connect(table: str, count: int, session: str = "s1") -> list[str]:
    ids = [f"{session}-c{n}=" for n in range(count)]
    for connection_id in ids:
        record = connections_table.new_connection(
            connection_id, session, "u1", ttl_seconds=600, now=time.time() - 60
        )
        connections_table.put_connection(table, record)
    return ids


def test_a_small_session_is_pushed_to_at_once(table: str, queue_url: str) -> None:
    ids = connect(table, 3)
    result = make(table, queue_url).broadcast(session_id="s1", data={"type": "hi"})
    assert result.direct is not None
    assert result.direct.sent == 3
    assert posted() == set(ids)
    assert queued(queue_url) == []


def test_a_large_session_becomes_jobs_of_at_most_the_limits_ids(table: str, queue_url: str) -> None:
    ids = connect(table, 10)
    result = make(table, queue_url).broadcast(session_id="s1", data={"type": "hi"})
    assert (result.direct, result.queued_jobs, result.queued_ids) == (None, 3, 10)
    jobs = queued(queue_url)
    assert sorted(len(job.connection_ids) for job in jobs) == [2, 4, 4]
    assert sorted(cid for job in jobs for cid in job.connection_ids) == sorted(ids)
    assert {job.data for job in jobs} == {'{"type":"hi"}'}
    assert posted() == set()


def test_a_large_topic_becomes_one_job_per_shard(table: str, queue_url: str) -> None:
    broadcaster = make(table, queue_url)
    assert broadcaster.topics is not None
    for n in range(5):
        broadcaster.topics.subscribe(f"c{n}=", "news")
    result = broadcaster.broadcast(topic="news", data="tick")
    assert result.queued_jobs == 4
    jobs = queued(queue_url)
    assert sorted((job.topic, job.shard, job.start_key) for job in jobs) == [
        ("news", shard, None) for shard in range(4)
    ]
    assert posted() == set()


def test_a_small_topic_is_pushed_to_at_once(table: str, queue_url: str) -> None:
    broadcaster = make(table, queue_url)
    assert broadcaster.topics is not None
    for connection_id in ("a=", "b="):
        broadcaster.topics.subscribe(connection_id, "news")
    result = broadcaster.broadcast(topic="news", data="tick")
    assert result.direct is not None
    assert result.direct.sent == 2
    assert posted() == {"a=", "b="}
    assert queued(queue_url) == []


def test_without_a_queue_everything_is_pushed_directly(table: str, queue_url: str) -> None:
    ids = connect(table, 6)
    result = make(table, None).broadcast(session_id="s1", data="x")
    assert result.direct is not None
    assert result.direct.sent == 6
    assert posted() == set(ids)


def test_batches_keep_within_sqs_limits() -> None:
    calls: list[list[dict[str, Any]]] = []

    class Recorder:
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
            calls.append(Entries)
            return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    broadcaster = Broadcaster(object(), queue_url="q", sqs=Recorder())  # type: ignore[arg-type]
    big = "x" * 100_000  # three bodies of ~100 KB do not fit one 256 KiB batch
    bodies = list(job_bodies(big, connection_ids=[f"c{n}" for n in range(5)], max_ids=1))
    assert broadcaster._enqueue(iter(bodies)) == 5
    assert [len(entries) for entries in calls] == [2, 2, 1]
    small = list(job_bodies("x", connection_ids=[f"c{n}" for n in range(25)], max_ids=1))
    calls.clear()
    assert broadcaster._enqueue(iter(small)) == 25
    assert [len(entries) for entries in calls] == [10, 10, 5]
    assert all(len(json.dumps(entries)) < 262_144 for entries in calls)


def test_entries_the_queue_refused_twice_raise(table: str) -> None:
    class Refuses:
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
            return {
                "Successful": [],
                "Failed": [
                    {"Id": e["Id"], "Code": "KmsThrottled", "SenderFault": False} for e in Entries
                ],
            }

    broadcaster = Broadcaster(object(), queue_url="q", sqs=Refuses())  # type: ignore[arg-type]
    with pytest.raises(BroadcastError, match="2 fan-out jobs not queued: KmsThrottled"):
        broadcaster._enqueue(job_bodies("x", connection_ids=["a", "b"], max_ids=1))


def test_exactly_one_audience(table: str) -> None:
    broadcaster = make(table, None)
    with pytest.raises(ValueError, match="exactly one"):
        broadcaster.broadcast(topic="a", session_id="b", data="x")
    with pytest.raises(ValueError, match="exactly one"):
        broadcaster.broadcast(data="x")


def test_a_job_never_outgrows_one_queue_message() -> None:
    frame = '"' * 120_000  # escaped as a JSON string: 240,000 bytes of data
    ids = [f"conn-{n:010d}=" for n in range(2000)]
    bodies = list(job_bodies(frame, connection_ids=ids, max_ids=1000))
    assert all(len(body.encode()) <= 262_144 for body in bodies)
    assert [cid for body in bodies for cid in json.loads(body)["connectionIds"]] == ids
    with pytest.raises(ValueError, match="no room"):
        list(job_bodies('"' * 131_072, connection_ids=["a"]))
