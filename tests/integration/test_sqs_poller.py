"""The local gateway's SQS poller: each enabled event source mapping of the emulator polled
as Lambda polls it, its function run from the deployed zip in the gateway's workers.

One gateway serves every case at once (each its own queue, function and mapping, with the
settings the case is about), so the whole module costs one start; each test then reads what
its own function recorded (tests/integration/fanout_fixtures/sqs_handlers.py logs every
invocation that answers) and what is left in its queues.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from wslocal.fanout_bench.rig import Rig, Worker, zip_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HANDLERS = Path(__file__).parent / "fanout_fixtures" / "sqs_handlers.py"
RECORD_KEYS = sorted(
    [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
)


@dataclass
class Case:
    worker: Worker
    log: Path
    rig: Rig

    def invocations(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def processed(self) -> Counter[str]:
        return Counter(r["id"] for i in self.invocations() for r in i["records"])

    def left(self) -> int:
        return self.rig.count(self.worker.queue_url)

    def dead_letters(self) -> int:
        return self.rig.count(self.worker.dlq_url)


def _bodies(prefix: str, count: int, **extra: Any) -> list[str]:
    return [json.dumps({"id": f"{prefix}{i}", **extra}) for i in range(count)]


def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the poller did not finish in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cases(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    # Long: every case's deployment, listed one after another, and one gateway for all.
    # The emulator runs in a process of its own (tests/integration/conftest.py), so that
    # its threads do not share this process's interpreter lock with the gateway's loop.
    workdir = tmp_path_factory.mktemp("sqs-poller")
    package_dir = workdir / "packages"
    package = zip_of({"sqs_handlers.py": HANDLERS}, package_dir / "sqs_handlers.zip")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", emulator)
        patch.setenv("AWS_REGION", "us-east-1")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        rig = Rig()
        found: dict[str, Case] = {}

        def deploy(name: str, bodies: list[str], **settings: Any) -> None:
            log = workdir / f"{name}.jsonl"
            # Timeouts with room for a loaded machine, except where they are the point.
            settings.setdefault("timeout", 5)
            settings.setdefault("visibility_timeout", 5)
            worker = rig.deploy(
                name,
                package,
                "sqs_handlers.handler",
                environment={"EVENT_LOG": str(log)},
                **settings,
            )
            rig.enqueue(worker.queue_url, bodies)
            found[name] = Case(worker, log, rig)

        deploy("batches", _bodies("b", 10), batch_size=4)
        deploy("window", _bodies("w", 30), batch_size=25, batching_window=1, visibility_timeout=6)
        deploy("concurrency", _bodies("c", 9, sleep=0.4), batch_size=1, maximum_concurrency=3)
        deploy(
            "reserved",
            _bodies("r", 4, sleep=0.2),
            batch_size=1,
            maximum_concurrency=3,
            reserved_concurrency=1,
        )
        deploy(
            "partial",
            [*_bodies("p", 4), json.dumps({"id": "p-fail", "fail": "once"})],
            batch_size=5,
        )
        deploy(
            "invalid",
            [*_bodies("i", 2), json.dumps({"id": "i-bad", "bad_answer": True})],
            batch_size=3,
        )
        deploy(
            "crash",
            [*_bodies("k", 4), json.dumps({"id": "k-crash", "crash": True})],
            batch_size=5,
        )
        deploy(
            "dead",
            [json.dumps({"id": "d", "fail": "always"})],
            batch_size=1,
            max_receive_count=2,
            timeout=2,
            visibility_timeout=2,
        )
        deploy(
            "nodelete",
            _bodies("n", 1),
            batch_size=1,
            role_actions=("sqs:ReceiveMessage", "sqs:GetQueueAttributes"),
        )
        settled = {
            "batches": lambda c: c.left() == 0,
            "window": lambda c: c.left() == 0,
            "concurrency": lambda c: c.left() == 0,
            "reserved": lambda c: c.left() == 0,
            "partial": lambda c: c.left() == 0,
            "invalid": lambda c: c.left() == 0,
            "crash": lambda c: c.left() == 0,
            "dead": lambda c: c.left() == 0 and c.dead_letters() == 1,
            "nodelete": lambda c: c.processed()["n0"] >= 2,
        }
        with rig.gateway(package_dir, workers=1) as gateway:
            _wait(lambda: all(settled[name](case) for name, case in found.items()), 60)
            stats = gateway.event_source_stats
        for case in found.values():
            case.stats = stats[case.worker.mapping_uuid]  # type: ignore[attr-defined]
        yield found


def test_batches_hold_at_most_batch_size_and_the_event_is_lambdas(
    cases: dict[str, Case],
) -> None:
    case = cases["batches"]
    sizes = [len(i["records"]) for i in case.invocations()]
    assert max(sizes) <= 4
    assert sum(sizes) == 10
    assert case.processed() == Counter({f"b{i}": 1 for i in range(10)})
    record = case.invocations()[0]["records"][0]
    assert record["keys"] == RECORD_KEYS
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == case.worker.queue_arn
    assert record["receiveCount"] == 1


def test_a_batching_window_gathers_more_than_one_receive(cases: dict[str, Case]) -> None:
    case = cases["window"]
    sizes = [len(i["records"]) for i in case.invocations()]
    assert max(sizes) > 10  # more than one ReceiveMessage's worth
    assert max(sizes) <= 25
    assert case.processed() == Counter({f"w{i}": 1 for i in range(30)})


def _most_at_once(invocations: list[dict[str, Any]]) -> int:
    edges = sorted([(i["start"], 1) for i in invocations] + [(i["end"], -1) for i in invocations])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_maximum_concurrency_bounds_the_invocations_in_flight(cases: dict[str, Case]) -> None:
    case = cases["concurrency"]
    invocations = case.invocations()
    assert len(invocations) == 9
    # Three at once, never more, though the gateway runs one worker per function otherwise.
    assert _most_at_once(invocations) == 3
    assert case.stats.max_in_flight == 3  # type: ignore[attr-defined]
    assert len({i["pid"] for i in invocations}) >= 3


def test_reserved_concurrency_caps_a_mappings_maximum(cases: dict[str, Case]) -> None:
    case = cases["reserved"]
    assert len(case.invocations()) == 4
    assert _most_at_once(case.invocations()) == 1


def test_a_partial_batch_failure_is_retried_alone(cases: dict[str, Case]) -> None:
    case = cases["partial"]
    first, *later = case.invocations()
    assert len(first["records"]) == 5
    assert [[r["id"] for r in i["records"]] for i in later] == [["p-fail"]]
    assert later[0]["records"][0]["receiveCount"] == 2
    # It came back after the queue's visibility timeout (5 s) from its first receive.
    again = later[0]["records"][0]
    assert later[0]["start"] - again["firstReceive"] / 1000 >= 5.0
    assert case.processed() == Counter({"p0": 1, "p1": 1, "p2": 1, "p3": 1, "p-fail": 2})


def test_an_invalid_batch_item_failure_fails_the_whole_batch(cases: dict[str, Case]) -> None:
    case = cases["invalid"]
    assert case.processed() == Counter({"i0": 2, "i1": 2, "i-bad": 2})


def test_a_worker_crash_mid_batch_loses_nothing(cases: dict[str, Case]) -> None:
    case = cases["crash"]
    invocations = case.invocations()
    # The crashed invocation recorded nothing; every message came back and was processed.
    assert case.processed() == Counter({"k0": 1, "k1": 1, "k2": 1, "k3": 1, "k-crash": 1})
    assert {r["receiveCount"] for i in invocations for r in i["records"]} == {2}
    assert case.stats.failed_invocations >= 1  # type: ignore[attr-defined]


def test_a_message_failing_max_receive_count_times_goes_to_the_dlq(
    cases: dict[str, Case],
) -> None:
    case = cases["dead"]
    assert case.processed() == Counter({"d": 2})
    assert case.left() == 0
    assert case.dead_letters() == 1


def test_the_poller_calls_sqs_with_the_functions_role(cases: dict[str, Case]) -> None:
    case = cases["nodelete"]
    # The role may receive but not delete: the processed message stays and comes back.
    assert case.processed()["n0"] >= 2
    assert case.stats.messages_deleted == 0  # type: ignore[attr-defined]


def test_a_queues_redrive_policy_reads_back_as_sqs_writes_it(cases: dict[str, Case]) -> None:
    # Compact JSON, as SQS answers: with moto's spaces every Terraform plan wanted to
    # update the queue.
    case = cases["dead"]
    attributes = case.rig.sqs.get_queue_attributes(
        QueueUrl=case.worker.queue_url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    dlq_arn = case.worker.queue_arn + "-dlq"
    assert attributes["RedrivePolicy"] == (
        f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}'
    )
    plain = case.rig.sqs.get_queue_attributes(QueueUrl=case.worker.dlq_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert "RedrivePolicy" not in plain


def test_a_queues_redrive_allow_policy_reads_back(emulator: str) -> None:
    # moto kept it without answering it, and Terraform's aws_sqs_queue_redrive_allow_policy
    # (modules/fanout) waited for it to read back (and, on destroy, to be gone) until its
    # apply timed out.
    sqs = boto3.client(
        "sqs",
        endpoint_url=emulator,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    url = sqs.create_queue(QueueName="redrive-allow-dlq")["QueueUrl"]
    assert (
        "RedriveAllowPolicy"
        not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    )
    policy = (
        '{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:123456789012:q"]}'
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": policy})
    for names in (["All"], ["RedriveAllowPolicy"]):
        read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        assert read["RedriveAllowPolicy"] == policy
    # Removing it (the resource's destroy) leaves no attribute, as SQS answers.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": ""})
    for names in (["All"], ["RedriveAllowPolicy"]):
        read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names).get("Attributes", {})
        assert "RedriveAllowPolicy" not in read
