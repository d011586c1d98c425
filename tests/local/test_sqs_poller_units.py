"""The pure parts of the local SQS event source: how a batch's answer is read, the event
Lambda sends, the checks CreateEventSourceMapping makes, and the IAM table of SQS."""

from __future__ import annotations

from typing import Any

import pytest
from moto.awslambda.exceptions import InvalidParameterValueException

from wslocal.emulator.awslambda_esm import check_mapping
from wslocal.emulator.iam.resources import Call, InvalidRequest, NoLookup, accesses
from wslocal.gateway.event_sources import QueueMapping
from wslocal.gateway.sqs_poller import batch_failures, sqs_event

QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"
IDS = ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        ({"batchItemFailures": [{"itemIdentifier": "other"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{}]}, None),
        ({"batchItemFailures": "m1"}, None),
        ("ok", None),
    ],
)
def test_batch_failures_reads_the_answer_as_lambda_does(
    answer: Any, failed: set[str] | None
) -> None:
    assert batch_failures(answer, IDS) == failed


def test_the_event_has_lambdas_record_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "list"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    (record,) = sqs_event([message], QUEUE, "us-east-1")["Records"]
    assert record == {
        "messageId": "m1",
        "receiptHandle": "rh",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {
            "kind": {
                "stringValue": "list",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": "AAE=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE,
        "awsRegion": "us-east-1",
    }


@pytest.mark.parametrize(
    ("spec", "visibility", "message"),
    [
        ({}, 10, "Queue visibility timeout: 10 seconds is less than Function timeout: 30"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, 30, "MaximumConcurrency"),
        ({"ScalingConfig": {"MaximumConcurrency": 1001}}, 30, "MaximumConcurrency"),
        ({"BatchSize": 11}, 30, "Maximum batch window"),
        ({"FunctionResponseTypes": ["Everything"]}, 30, "FunctionResponseTypes"),
    ],
)
def test_a_mapping_aws_refuses_is_refused(
    spec: dict[str, Any], visibility: int, message: str
) -> None:
    with pytest.raises(InvalidParameterValueException, match=message):
        check_mapping(
            {"EventSourceArn": QUEUE, **spec}, function_timeout=30, queue_visibility=visibility
        )


def test_a_mapping_aws_accepts_is_accepted() -> None:
    check_mapping(
        {
            "EventSourceArn": QUEUE,
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 1,
            "ScalingConfig": {"MaximumConcurrency": 2},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
        function_timeout=30,
        queue_visibility=30,
    )
    # A FIFO queue takes at most 10 (moto's own check) and needs no window.
    check_mapping(
        {"EventSourceArn": f"{QUEUE}.fifo", "BatchSize": 10},
        function_timeout=30,
        queue_visibility=30,
    )


def test_reserved_concurrency_caps_a_mappings_concurrency() -> None:
    mapping = QueueMapping("u", "f", QUEUE, "url", 10, 0, 8, True, 30)
    assert mapping.concurrency() == 8
    assert mapping.concurrency(3) == 3
    assert QueueMapping("u", "f", QUEUE, "url", 10, 0, None, True, 30).concurrency() == 2
    # Each invocation in flight is a process locally: at most 16, whatever AWS allows.
    assert QueueMapping("u", "f", QUEUE, "url", 10, 0, 1000, True, 30).concurrency() == 16


def _accesses(operation: str, **params: Any) -> list[tuple[str, str]]:
    call = Call("sqs", operation, params, "us-east-1", "123456789012")
    return [(a.action, a.resource) for a in accesses(call, NoLookup())]


def test_sqs_calls_authorize_the_queue_named_by_its_url() -> None:
    url = "http://127.0.0.1:4566/123456789012/jobs"
    assert _accesses("ReceiveMessage", QueueUrl=url) == [("sqs:ReceiveMessage", QUEUE)]
    assert _accesses("DeleteMessageBatch", QueueUrl=url) == [("sqs:DeleteMessage", QUEUE)]
    assert _accesses("SendMessageBatch", QueueUrl=url) == [("sqs:SendMessage", QUEUE)]
    assert _accesses("GetQueueUrl", QueueName="jobs") == [("sqs:GetQueueUrl", QUEUE)]
    other = "https://sqs.us-east-1.amazonaws.com/210987654321/jobs"
    assert _accesses("GetQueueAttributes", QueueUrl=other) == [
        ("sqs:GetQueueAttributes", "arn:aws:sqs:us-east-1:210987654321:jobs")
    ]
    with pytest.raises(InvalidRequest):
        _accesses("ReceiveMessage", QueueUrl="http://127.0.0.1:4566/jobs")
