"""The fan-out worker (``ws_bridge.fanout``): moto for DynamoDB and SQS, and a real HTTP
server standing in for ``@connections`` (moto's never answers 410 or 429), so botocore maps
each status to its error code exactly as it does against API Gateway.

The queue's messages are read from moto's backend, delayed ones included: a requeued job is
delayed ``2 ** attempt`` seconds, which the tests do not wait for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from bridge_fakes import (
    REGION,
    SUBSCRIPTIONS,
    FakeServer,
    Reply,
    create_subscriptions_table,
    metric_lines,
    scan,
)
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from ws_bridge import aws, connections_table, fanout, metrics
from ws_bridge.connections_post import ConnectionsPoster
from ws_bridge.fanout import Clients
from ws_bridge.fanout_jobs import Job, encode_job, parse_job
from ws_bridge.settings import FanoutSettings
from ws_bridge_backend import push
from ws_bridge_backend.topics import Topics, shard_of

QUEUE = "ws-bridge-fanout"


@pytest.fixture
def stub() -> Iterator[FakeServer]:
    """@connections: 200 for every post unless a test sets another reply."""
    server = FakeServer().start()
    server.default = Reply(200, b"")
    yield server
    server.stop()


@pytest.fixture
def queue_url(moto: None) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


@pytest.fixture
def settings(table: str, queue_url: str, stub: FakeServer) -> FanoutSettings:
    create_subscriptions_table()
    return FanoutSettings(
        connections_table=table,
        subscriptions_table=SUBSCRIPTIONS,
        callback_url=f"{stub.url}/prod",
        queue_url=queue_url,
        max_ids_per_message=50,
        concurrency=4,
        max_attempts=2,
    )


@pytest.fixture(params=["poster", "client"])
def clients(settings: FanoutSettings, request: pytest.FixtureRequest) -> Clients:
    """The worker's clients, posting as the worker does (``ConnectionsPoster``, signed and
    sent straight into the client's pool) or through the boto3 client itself."""
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=settings.callback_url,
        region_name=REGION,
        config=aws.MANAGEMENT_API_CONFIG,
    )
    poster = None
    if request.param == "poster":
        poster = ConnectionsPoster.for_client(management, boto3.Session().get_credentials())
        assert poster is not None
    return Clients(
        management=management,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        sqs=boto3.client("sqs", region_name=REGION),
        poster=poster,
    )


def answer(stub: FakeServer, connection_id: str, status: int, code: str) -> None:
    headers = {"x-amzn-ErrorType": code}
    stub.reply(
        "POST",
        f"/prod/@connections/{connection_id}",
        Reply(status, {"message": code}, headers=headers),
    )


def posts(stub: FakeServer, connection_id: str) -> list[bytes]:
    return [seen.body for seen in stub.seen("POST", f"/prod/@connections/{connection_id}")]


def queued() -> list[dict[str, Any]]:
    """The bodies in the queue, delayed ones included, oldest first."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[QUEUE]
    return [json.loads(message.body) for message in queue._messages]


def clear_queue() -> None:
    sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[QUEUE]._messages.clear()


def event(*bodies: str | dict[str, Any]) -> dict[str, Any]:
    records = [
        {"messageId": f"m{n}", "body": body if isinstance(body, str) else json.dumps(body)}
        for n, body in enumerate(bodies)
    ]
    return {"Records": records}


def run(
    event_: dict[str, Any], settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor
) -> list[str]:
    answer_ = fanout.process(event_, settings, clients, pool, time.monotonic() + 30)
    return [failure["itemIdentifier"] for failure in answer_["batchItemFailures"]]


def connect(table: str, connection_id: str, age: float = 60) -> None:
    connections_table.put_connection(
        table,
        connections_table.new_connection(
            connection_id, "s1", "u1", ttl_seconds=600, now=time.time() - age
        ),
        dynamodb=boto3.client("dynamodb", region_name=REGION),
    )


def test_a_list_is_posted_once_to_each_connection(
    settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor, stub: FakeServer
) -> None:
    ids = ["a1", "b2", "c3"]
    assert (
        run(
            event({"v": 1, "data": '{"t":1}', "connectionIds": [*ids, "a1"]}),
            settings,
            clients,
            pool,
        )
        == []
    )
    for connection_id in ids:
        assert posts(stub, connection_id) == [b'{"t":1}']
    assert queued() == []


def test_gone_deletes_the_record_and_its_subscriptions_but_keeps_a_fresh_one(
    settings: FanoutSettings,
    clients: Clients,
    pool: ThreadPoolExecutor,
    stub: FakeServer,
    table: str,
) -> None:
    topics = Topics(SUBSCRIPTIONS, dynamodb=clients.dynamodb)
    for connection_id, age in (("old1", 60), ("new1", 5), ("live1", 60)):
        connect(table, connection_id, age)
        topics.subscribe(connection_id, "news")
        topics.subscribe(connection_id, "sport")
    answer(stub, "old1", 410, "GoneException")
    answer(stub, "new1", 410, "GoneException")
    assert (
        run(
            event({"v": 1, "data": "x", "connectionIds": ["old1", "new1", "live1"]}),
            settings,
            clients,
            pool,
        )
        == []
    )
    assert set(scan(table)) == {"new1", "live1"}  # new1: its $connect may still be running
    assert set(topics.subscribers("news")) == {"new1", "live1"}
    assert set(topics.subscribers("sport")) == {"new1", "live1"}
    assert queued() == []


def test_throttled_ids_alone_go_back_and_none_is_posted_twice(
    settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor, stub: FakeServer
) -> None:
    answer(stub, "b2", 429, "TooManyRequestsException")
    answer(stub, "c3", 500, "InternalServerErrorException")
    assert (
        run(
            event({"v": 1, "data": "x", "connectionIds": ["a1", "b2", "c3", "d4"]}),
            settings,
            clients,
            pool,
        )
        == []
    )
    (retry,) = queued()
    assert retry == {"v": 1, "data": "x", "connectionIds": ["b2", "c3"], "attempt": 1}
    # The API recovers; the requeued job is done: every connection got the frame once.
    stub.replies.clear()
    clear_queue()
    assert run(event(retry), settings, clients, pool) == []
    delivered = {cid: len(posts(stub, cid)) for cid in ("a1", "b2", "c3", "d4")}
    assert delivered == {"a1": 1, "b2": 2, "c3": 2, "d4": 1}  # b2, c3: one refused, one sent
    assert queued() == []


def test_a_job_none_of_whose_posts_went_out_is_reported_alone(
    settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor, stub: FakeServer
) -> None:
    answer(stub, "b2", 429, "TooManyRequestsException")
    failures = run(
        event(
            {"v": 1, "data": "x", "connectionIds": ["b2"]},
            "not json",
            {"v": 1, "data": "y", "connectionIds": ["a1"]},
        ),
        settings,
        clients,
        pool,
    )
    assert failures == ["m0", "m1"]  # the throttled one and the malformed one; m2 is done
    assert posts(stub, "a1") == [b"y"]
    assert queued() == []


def test_ids_are_dropped_after_the_last_attempt(
    settings: FanoutSettings,
    clients: Clients,
    pool: ThreadPoolExecutor,
    stub: FakeServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer(stub, "b2", 503, "ServiceUnavailable")
    job = {"v": 1, "data": "x", "connectionIds": ["a1", "b2"], "attempt": settings.max_attempts}
    with metrics.invocation("NS", "svc"):
        assert run(event(job), settings, clients, pool) == []
    assert queued() == []
    (line,) = metric_lines(capsys.readouterr().out)
    assert line["FanoutDropped"] == 1
    assert line["FanoutSent"] == 1


def test_a_topic_shard_is_posted_page_by_page_to_each_live_subscriber(
    settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor, stub: FakeServer
) -> None:
    topics = Topics(SUBSCRIPTIONS, dynamodb=clients.dynamodb, shards=2)
    subscribers = [f"c{n}" for n in range(40)]
    for connection_id in subscribers:
        topics.subscribe(connection_id, "news")
    expired = "zz9"
    topics.subscribe(expired, "news")
    clients.dynamodb.update_item(
        TableName=SUBSCRIPTIONS,
        Key={"topicShard": {"S": f"news#{shard_of(expired, 2)}"}, "connectionId": {"S": expired}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    small = FanoutSettings(
        connections_table=settings.connections_table,
        subscriptions_table=SUBSCRIPTIONS,
        callback_url=settings.callback_url,
        queue_url=settings.queue_url,
        max_ids_per_message=7,
        concurrency=4,
        max_attempts=2,
    )
    jobs: list[dict[str, Any]] = [
        {"v": 1, "data": "hi", "topic": "news", "shard": s, "startKey": None} for s in (0, 1)
    ]
    rounds = 0
    while jobs:
        rounds += 1
        assert run(event(*jobs), small, clients, pool) == []
        jobs = queued()
        clear_queue()
        assert all(job["topic"] == "news" and job["startKey"] for job in jobs)
    assert rounds >= 3  # 40 subscribers in 2 shards, 7 a page
    assert {cid: len(posts(stub, cid)) for cid in subscribers} == dict.fromkeys(subscribers, 1)
    assert posts(stub, expired) == []


def test_a_topic_page_whose_next_job_cannot_be_queued_is_reported_before_any_post(
    settings: FanoutSettings, clients: Clients, pool: ThreadPoolExecutor, stub: FakeServer
) -> None:
    topics = Topics(SUBSCRIPTIONS, dynamodb=clients.dynamodb, shards=1)
    for n in range(60):
        topics.subscribe(f"c{n}", "news")
    broken = FanoutSettings(
        connections_table=settings.connections_table,
        subscriptions_table=SUBSCRIPTIONS,
        callback_url=settings.callback_url,
        queue_url=settings.queue_url.replace(QUEUE, "no-such-queue"),
        max_ids_per_message=50,
    )
    assert run(
        event({"v": 1, "data": "x", "topic": "news", "shard": 0, "startKey": None}),
        broken,
        clients,
        pool,
    ) == ["m0"]
    assert stub.seen("POST") == []


def test_the_entry_point_reads_its_settings_and_answers_the_batch(
    settings: FanoutSettings,
    stub: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "CONNECTIONS_TABLE": settings.connections_table,
        "SUBSCRIPTIONS_TABLE": SUBSCRIPTIONS,
        "CALLBACK_URL": settings.callback_url,
        "FANOUT_QUEUE_URL": settings.queue_url,
        "METRICS_SERVICE": "labs",
    }.items():
        monkeypatch.setenv(name, value)
    fanout._settings.cache_clear()
    aws.management_api.cache_clear()
    try:
        answer_ = fanout.handler(event({"v": 1, "data": "x", "connectionIds": ["a1"]}), None)
    finally:
        fanout._settings.cache_clear()
        aws.management_api.cache_clear()
    assert answer_ == {"batchItemFailures": []}
    assert posts(stub, "a1") == [b"x"]
    (line,) = metric_lines(capsys.readouterr().out)
    assert line["Service"] == "labs"
    assert line["FanoutSent"] == 1


def test_the_grace_for_a_fresh_connection_is_the_sdks() -> None:
    assert fanout.GONE_GRACE_SECONDS == push.GONE_GRACE_SECONDS


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"v": 2, "data": "x", "connectionIds": ["a"]}', "v must be 1"),
        ('{"v": 1, "data": "", "connectionIds": ["a"]}', "data must be a non-empty string"),
        ('{"v": 1, "data": "x", "connectionIds": []}', "connectionIds must be a non-empty list"),
        (
            '{"v": 1, "data": "x", "connectionIds": [1]}',
            "connectionIds must hold connection ids (strings)",
        ),
        (
            '{"v": 1, "data": "x", "connectionIds": ["a"], "topic": "t"}',
            "a job has either connectionIds or topic",
        ),
        ('{"v": 1, "data": "x", "topic": "t", "shard": -1}', "shard must be a whole number"),
        (
            '{"v": 1, "data": "x", "topic": "t", "shard": 0, "startKey": "k"}',
            "startKey must be an object or null",
        ),
        ("[]", "not a JSON object"),
    ],
)
def test_a_malformed_job_is_refused_with_its_reason(body: str, reason: str) -> None:
    assert parse_job(body) == reason


def test_a_job_holds_at_most_the_contracts_ids() -> None:
    body = json.dumps({"v": 1, "data": "x", "connectionIds": [f"c{n}" for n in range(3)]})
    assert parse_job(body, max_ids=2) == "connectionIds holds 3 ids, more than 2"
    job = parse_job(body, max_ids=3)
    assert isinstance(job, Job)
    assert parse_job(encode_job(job)) == job
