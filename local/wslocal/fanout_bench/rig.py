"""What a fan-out run deploys into the local emulator: a WebSocket API for the gateway to
serve, and per worker function its queue, dead-letter queue, role and event source mapping,
as the module's `fanout` part creates them on AWS. Shared by `make bench-fanout` and the
fan-out tests.

The caller points boto3 at the emulator first (`AWS_ENDPOINT_URL`, a region, the admin
keys); the gateway's workers and pollers read the same variables.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from wslocal.gateway import GatewaySettings, GatewayThread
from wslocal.stack import REPO_ROOT

__all__ = ["Rig", "Worker", "build_package", "zip_of"]

STAGE = "fanout"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def zip_of(files: Mapping[str, Path], destination: Path) -> Path:
    """A Lambda package holding `files` (name in the zip -> file)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w") as archive:
        for name, path in sorted(files.items()):
            archive.write(path, name)
    return destination


def build_package(workdir: Path) -> Path:
    """The Lambda package, built from this tree (packages/ may predate the worker)."""
    out = workdir / "packages"
    subprocess.run(  # noqa: S603 - this interpreter and the repository's own tool
        [
            sys.executable,
            str(REPO_ROOT / "tools" / "build_package.py"),
            "--out",
            str(out),
            "--only",
            "ws_bridge.zip",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out / "ws_bridge.zip"


@dataclass(frozen=True)
class Worker:
    """One deployed worker function and what feeds it."""

    name: str
    function_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    mapping_uuid: str


class Rig:
    """The API (created once) and the workers deployed for each run."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.iam: Any = boto3.client("iam", region_name=region)
        self.sqs: Any = boto3.client("sqs", region_name=region)
        self.lambda_: Any = boto3.client("lambda", region_name=region)
        apigw: Any = boto3.client("apigatewayv2", region_name=region)
        self.api_id = str(
            apigw.create_api(
                Name="fanout",
                ProtocolType="WEBSOCKET",
                RouteSelectionExpression="$request.body.action",
            )["ApiId"]
        )
        apigw.create_stage(ApiId=self.api_id, StageName=STAGE)

    def deploy(
        self,
        name: str,
        package: Path,
        handler: str,
        *,
        timeout: int = 30,
        visibility_timeout: int = 30,
        batch_size: int = 10,
        batching_window: int = 0,
        maximum_concurrency: int | None = None,
        reserved_concurrency: int | None = None,
        report_failures: bool = True,
        max_receive_count: int = 5,
        environment: Mapping[str, str] | None = None,
        role_actions: Iterable[str] = (
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ),
        statements: Iterable[Mapping[str, Any]] = (),
        queue_url_variable: str | None = None,
    ) -> Worker:
        """The worker `name`: its queue (with a DLQ after `max_receive_count` receives), a
        role allowed `role_actions` on the queue (and `statements`), the function (its
        queue's URL in the variable `queue_url_variable`, when given), the mapping."""
        # Long: one resource after another, each needing the one before (the queue's ARN for
        # the role, the role for the function, both for the mapping), as Terraform orders them.
        dlq_url = self.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = self._arn(dlq_url)
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
        queue_url = self.sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        queue_arn = self._arn(queue_url)
        role_arn = self.iam.create_role(
            RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(_TRUST)
        )["Role"]["Arn"]
        statement = {"Effect": "Allow", "Action": list(role_actions), "Resource": queue_arn}
        policy = {"Version": "2012-10-17", "Statement": [statement, *statements]}
        self.iam.put_role_policy(
            RoleName=f"{name}-role", PolicyName="queue", PolicyDocument=json.dumps(policy)
        )
        variables = dict(environment or {})
        if queue_url_variable:
            variables[queue_url_variable] = queue_url
        function_arn = self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": package.read_bytes()},
            Timeout=timeout,
            Environment={"Variables": variables},
        )["FunctionArn"]
        if reserved_concurrency is not None:
            self.lambda_.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=reserved_concurrency
            )
        settings: dict[str, Any] = {
            "BatchSize": batch_size,
            "MaximumBatchingWindowInSeconds": batching_window,
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if report_failures else [],
        }
        if maximum_concurrency is not None:
            settings["ScalingConfig"] = {"MaximumConcurrency": maximum_concurrency}
        mapping = self.lambda_.create_event_source_mapping(
            FunctionName=name, EventSourceArn=queue_arn, **settings
        )
        return Worker(name, function_arn, queue_url, queue_arn, dlq_url, mapping["UUID"])

    def _arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def retire(self, worker: Worker) -> None:
        """Delete the worker's mapping: the next gateway polls its queue no more."""
        self.lambda_.delete_event_source_mapping(UUID=worker.mapping_uuid)

    def enqueue(self, queue_url: str, bodies: Iterable[str]) -> int:
        """Send each body as one message (ten per SendMessageBatch); how many were sent."""
        batch: list[dict[str, str]] = []
        sent = 0
        for body in bodies:
            batch.append({"Id": str(len(batch)), "MessageBody": body})
            if len(batch) == 10:
                self.sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
                sent += len(batch)
                batch = []
        if batch:
            self.sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
            sent += len(batch)
        return sent

    def count(self, queue_url: str) -> int:
        """Messages in the queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def gateway(self, package_dir: Path, workers: int = 1) -> GatewayThread:
        """A gateway for the API, polling every mapping now in the region."""
        return GatewayThread(
            GatewaySettings(
                api_id=self.api_id,
                stage=STAGE,
                package_dirs=(package_dir,),
                workers=workers,
                shutdown_timeout=5.0,
            )
        )
