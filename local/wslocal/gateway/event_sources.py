"""The SQS event source mappings the gateway polls, read from the control plane once.

Lambda polls an SQS queue for each enabled event source mapping and invokes the function
with batches of its messages. The local gateway plays that poller (`sqs_poller`) for every
enabled mapping whose source is an SQS queue in the region, whatever API the function
serves: as on AWS, a mapping belongs to the account, not to an API. What is read of each:
`BatchSize`, `MaximumBatchingWindowInSeconds`, `ScalingConfig.MaximumConcurrency`,
`FunctionResponseTypes` (`ReportBatchItemFailures`), the queue's URL and visibility
timeout. The queue's redrive policy needs nothing here: SQS (moto, in the emulator) moves a
message received more than `maxReceiveCount` times to the dead-letter queue itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_CONCURRENCY", "LOCAL_MAX_CONCURRENCY", "QueueMapping", "list_queue_mappings"]

# Without ScalingConfig, Lambda scales an SQS mapping's pollers up to 1,250 invocations at
# once; locally a mapping without a maximum runs this many (each a worker process).
DEFAULT_CONCURRENCY = 2
# Each invocation in flight is a worker process here: a mapping allowed more (AWS takes up to
# 1,000) runs this many locally, and the gateway says so at start.
LOCAL_MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class QueueMapping:
    """One enabled SQS event source mapping, as the poller runs it."""

    uuid: str
    function_arn: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window: float  # MaximumBatchingWindowInSeconds
    maximum_concurrency: int | None  # ScalingConfig.MaximumConcurrency
    report_batch_item_failures: bool
    visibility_timeout: int  # the queue's, seconds

    def concurrency(self, reserved: int | None = None) -> int:
        """How many invocations this mapping may run at once: its maximum concurrency, and
        no more than the function's reserved concurrency (`reserved`) when it has one, nor
        than LOCAL_MAX_CONCURRENCY."""
        wanted = min(self.maximum_concurrency or DEFAULT_CONCURRENCY, LOCAL_MAX_CONCURRENCY)
        return wanted if reserved is None else min(wanted, reserved)

    @property
    def fifo(self) -> bool:
        return self.queue_arn.endswith(".fifo")


def _pages(lambda_client: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = (
            lambda_client.list_event_source_mappings(Marker=marker)
            if marker
            else lambda_client.list_event_source_mappings()
        )
        items.extend(page.get("EventSourceMappings") or [])
        marker = page.get("NextMarker")
        if not marker:
            return items


def _queue_url(sqs_client: Any, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    found = sqs_client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    return str(found["QueueUrl"])


def list_queue_mappings(lambda_client: Any, sqs_client: Any) -> list[QueueMapping]:
    """Every enabled event source mapping of the region whose source is an SQS queue."""
    mappings: list[QueueMapping] = []
    for item in _pages(lambda_client):
        source = str(item.get("EventSourceArn") or "")
        if not source.startswith("arn:") or source.split(":")[2] != "sqs":
            continue
        if str(item.get("State") or "Enabled") not in {"Enabled", "Enabling", "Updating"}:
            continue
        url = _queue_url(sqs_client, source)
        attributes = sqs_client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["VisibilityTimeout"]
        ).get("Attributes", {})
        scaling = item.get("ScalingConfig") or {}
        mappings.append(
            QueueMapping(
                uuid=str(item["UUID"]),
                function_arn=str(item["FunctionArn"]),
                queue_arn=source,
                queue_url=url,
                batch_size=int(item.get("BatchSize") or 10),
                batching_window=float(item.get("MaximumBatchingWindowInSeconds") or 0),
                maximum_concurrency=(
                    int(scaling["MaximumConcurrency"])
                    if scaling.get("MaximumConcurrency")
                    else None
                ),
                report_batch_item_failures="ReportBatchItemFailures"
                in (item.get("FunctionResponseTypes") or ()),
                visibility_timeout=int(attributes.get("VisibilityTimeout") or 30),
            )
        )
    return mappings
