"""Topics in the reference backend: subscribe and unsubscribe messages answered by the SDK's
``Topics.handle`` (with the backend's rule on personal topics), and the admin broadcast
through the SDK's ``Broadcaster``, directly or as queue jobs. moto's DynamoDB, SQS and
``@connections`` answer in-process."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
import urllib3
from local_support import BackendFactory, BackendHandle
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ws_bridge import aws
from ws_bridge.connections_table import new_connection, put_connection
from ws_bridge_backend.push import Pusher
from ws_bridge_backend.registry import ConnectionRegistry
from ws_bridge_backend.topics import Topics
from wslocal.reference_backend import cli
from wslocal.reference_backend.topics import TopicDesk, may_subscribe

TABLE = "ws-connections"
SUBSCRIPTIONS = "ws-subscriptions"
SHARDS = 4
ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/local"
ALICE = {"connectionId": "conn-1", "sessionId": "lab-1", "userId": "alice"}
BOB = {"connectionId": "conn-2", "sessionId": "lab-1", "userId": "bob"}
CAROL = {"connectionId": "conn-3", "sessionId": "lab-2", "userId": "carol"}


def _create_tables() -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("connectionId", "sessionId", "userId")
        ],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": f"{name}-index",
                "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name in ("sessionId", "userId")
        ],
    )
    dynamodb.create_table(
        TableName=SUBSCRIPTIONS,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "topicShard", "AttributeType": "S"},
            {"AttributeName": "connectionId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "topicShard", "KeyType": "HASH"},
            {"AttributeName": "connectionId", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "connectionId-index",
                "KeySchema": [
                    {"AttributeName": "connectionId", "KeyType": "HASH"},
                    {"AttributeName": "topicShard", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    for ids in (ALICE, BOB, CAROL):
        record = new_connection(
            ids["connectionId"], ids["sessionId"], ids["userId"], now=time.time() - 60
        )
        put_connection(TABLE, record)


@pytest.fixture
def desk(aws_env: None) -> Iterator[TopicDesk]:
    """A TopicDesk over moto: alice, bob and carol connected, a queue, @connections."""
    aws.reset_clients()
    with mock_aws():
        _create_tables()
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="fanout")["QueueUrl"]
        dynamodb = boto3.client("dynamodb")
        management = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
        pusher = Pusher(ConnectionRegistry(TABLE, dynamodb=dynamodb), management=management)
        topics = Topics(SUBSCRIPTIONS, connections_table=TABLE, shards=SHARDS, dynamodb=dynamodb)
        yield TopicDesk(topics, pusher, queue_url=queue_url, sqs=sqs)
    aws.reset_clients()


def body(response: urllib3.BaseHTTPResponse) -> Any:
    return json.loads(response.data)


def say(backend: BackendHandle, ids: dict[str, str], **message: Any) -> dict[str, Any]:
    response = backend.message({**message, **ids}, connection_id=ids["connectionId"])
    assert response.status == 200, response.data
    reply: dict[str, Any] = body(response)
    return reply


def subscribers() -> set[tuple[str, str]]:
    items = boto3.client("dynamodb").scan(TableName=SUBSCRIPTIONS)["Items"]
    return {(item["topicShard"]["S"].split("#")[0], item["connectionId"]["S"]) for item in items}


def posted() -> dict[str, bytes]:
    """What moto's @connections received, by connection id (posts run together)."""
    connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections
    return {unquote(key.rsplit("/", 1)[-1]): c.data for key, c in connections.items()}


def broadcast(backend: BackendHandle, **request: Any) -> urllib3.BaseHTTPResponse:
    return backend.request("POST", "/api/admin/broadcast", body=request)


def test_subscribe_and_unsubscribe_are_answered_by_topics_handle(
    desk: TopicDesk, start_backend: BackendFactory
) -> None:
    backend = start_backend(topics=desk)
    reply = say(backend, ALICE, type="subscribe", topic="news/eu", id="s-1")
    assert (reply["type"], reply["topic"], reply["id"]) == ("subscribed", "news/eu", "s-1")
    assert isinstance(reply["seq"], int)  # a reply of the session layer, numbered
    assert subscribers() == {("news/eu", "conn-1")}
    # The connection is the handler's, not one the client names.
    forged = say(backend, BOB, type="subscribe", topic="news/eu", connectionId="conn-1")
    assert forged["type"] == "subscribed"
    assert subscribers() == {("news/eu", "conn-1"), ("news/eu", "conn-2")}
    reply = say(backend, ALICE, type="unsubscribe", topic="news/eu", id="u-1")
    assert (reply["type"], reply["topic"], reply["id"]) == ("unsubscribed", "news/eu", "u-1")
    assert subscribers() == {("news/eu", "conn-2")}


def test_personal_topics_are_their_users_only(
    desk: TopicDesk, start_backend: BackendFactory
) -> None:
    backend = start_backend(topics=desk)
    refused = say(backend, ALICE, type="subscribe", topic="users/bob/inbox")
    assert (refused["type"], refused["error"]) == ("error", "not_subscribed")
    assert say(backend, ALICE, type="subscribe", topic="users/alice/inbox")["type"] == "subscribed"
    assert subscribers() == {("users/alice/inbox", "conn-1")}
    assert may_subscribe({"userId": "bob"}, "users/bob")
    assert not may_subscribe({"userId": "bob"}, "users/bobby")
    assert not may_subscribe({"userId": ""}, "users/")
    assert may_subscribe({"userId": "bob"}, "prices/users/alice")


def test_a_connection_without_a_live_record_is_not_subscribed(
    desk: TopicDesk, start_backend: BackendFactory
) -> None:
    backend = start_backend(topics=desk)
    ghost = {"connectionId": "gone-1", "sessionId": "lab-1", "userId": "alice"}
    reply = say(backend, ghost, type="subscribe", topic="news/eu")
    assert (reply["type"], reply["error"]) == ("error", "not_subscribed")
    assert subscribers() == set()


def test_an_invalid_topic_is_an_error_reply(desk: TopicDesk, start_backend: BackendFactory) -> None:
    backend = start_backend(topics=desk)
    for topic in ["a#b", "", None, 7, "x" * 129]:
        reply = say(backend, ALICE, type="subscribe", topic=topic)
        assert (reply["type"], reply["error"]) == ("error", "invalid_topic"), topic
    assert subscribers() == set()


def test_a_small_audience_is_pushed_to_and_a_large_one_queued(
    desk: TopicDesk, start_backend: BackendFactory
) -> None:
    backend = start_backend(topics=desk)
    for ids in (ALICE, BOB):
        assert say(backend, ids, type="subscribe", topic="news/eu")["type"] == "subscribed"
    news = {"type": "news", "text": "hé"}

    direct = broadcast(backend, topic="news/eu", data=news)
    assert direct.status == 200, direct.data
    assert body(direct) == {
        "topic": "news/eu",
        "direct": {"sent": 2, "gone": 0, "failed": 0},
        "queuedJobs": 0,
    }
    frame = json.dumps(news, ensure_ascii=False, separators=(",", ":")).encode()
    assert posted() == {"conn-1": frame, "conn-2": frame}  # carol: nothing

    queued = broadcast(backend, topic="news/eu", data=news, directThreshold=0)
    assert body(queued) == {"topic": "news/eu", "direct": None, "queuedJobs": SHARDS}
    assert desk.queue_url is not None
    sqs = boto3.client("sqs")
    jobs = sqs.receive_message(QueueUrl=desk.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(job["Body"])["shard"] for job in jobs) == list(range(SHARDS))
    assert {json.loads(job["Body"])["data"] for job in jobs} == {frame.decode()}
    assert posted() == {"conn-1": frame, "conn-2": frame}  # nothing more posted here


REFUSED_BROADCASTS = [
    ({"topic": "a#b", "data": {}}, "invalid_topic"),
    ({"data": {}}, "invalid_topic"),
    ({"topic": "t", "data": [1]}, "invalid_broadcast"),
    ({"topic": "t", "data": {}, "directThreshold": -1}, "invalid_broadcast"),
    ({"topic": "t", "data": {}, "directThreshold": True}, "invalid_broadcast"),
    ({"topic": "t", "data": "x" * 200_000}, "invalid_broadcast"),  # over 128 KB
    ([1], "invalid_broadcast"),
]


def test_broadcast_refusals(desk: TopicDesk, start_backend: BackendFactory) -> None:
    backend = start_backend(topics=desk)
    for request_body, code in REFUSED_BROADCASTS:
        response = backend.request("POST", "/api/admin/broadcast", body=request_body)
        assert (response.status, body(response)["error"]) == (400, code), request_body
    assert backend.request("GET", "/api/admin/broadcast").status == 405
    assert posted() == {}


def test_without_the_subscriptions_table_topics_are_unavailable(backend: BackendHandle) -> None:
    reply = say(backend, ALICE, type="subscribe", topic="news/eu")
    assert (reply["type"], reply["error"]) == ("error", "topics_unavailable")
    response = broadcast(backend, topic="news/eu", data={"type": "news"})
    assert (response.status, body(response)["error"]) == (503, "topics_unavailable")


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["--subscriptions-table", "s"], "--subscriptions-table needs --table"),
        (
            [
                "--table",
                "t",
                "--callback-url",
                "http://127.0.0.1:1/local",
                "--fanout-queue-url",
                "q",
            ],
            "--fanout-queue-url needs --subscriptions-table",
        ),
        (["--direct-threshold", "-1"], "--direct-threshold must be >= 0"),
    ],
)
def test_the_command_line_refuses_topic_flags_without_what_they_need(
    argv: list[str], needs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert needs in capsys.readouterr().err
