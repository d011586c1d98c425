"""Lambda's SQS poller for one event source mapping: batches of messages in, the function
invoked in its pool, the messages it processed deleted.

For each mapping (`event_sources.QueueMapping`) the gateway runs `concurrency` loops (the
mapping's `ScalingConfig.MaximumConcurrency`, capped by the function's reserved
concurrency), so at most that many invocations are in flight. Each loop, as Lambda's pollers do:

1. receives up to `BatchSize` messages, long-polling: 10 per ReceiveMessage, more only
   within `MaximumBatchingWindowInSeconds` of the first ones, and below Lambda's 6 MB
   payload;
2. invokes the function with the event Lambda sends (`Records` of `messageId`,
   `receiptHandle`, `body`, `attributes`, `messageAttributes`, `md5OfBody`, `eventSource`,
   `eventSourceARN`, `awsRegion`);
3. deletes the messages that succeeded: all of them when the function returns, except,
   with `ReportBatchItemFailures`, those its `batchItemFailures` name; none when the
   function fails, times out or crashes, or when its answer names an `itemIdentifier`
   that is empty or not in the batch (Lambda then counts the whole batch as failed).

What is not deleted comes back when the queue's visibility timeout ends, and SQS moves a
message received more than the redrive policy's `maxReceiveCount` times to the dead-letter
queue. The SQS calls are made with the function's execution role (as Lambda's are), so a
role without `sqs:ReceiveMessage`, `sqs:DeleteMessage` or `sqs:GetQueueAttributes` fails
here as on AWS (the errors are logged and the loop tries again).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wslocal.gateway.credentials import RoleCredentials
from wslocal.gateway.event_sources import QueueMapping
from wslocal.gateway.runtime import FunctionPool, Invocation

__all__ = ["PollerStats", "QueuePoller", "batch_failures", "sqs_event"]

log = logging.getLogger("wslocal.gateway")

# Lambda's synchronous invocation payload limit; a batch stops growing before it.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_PER_RECEIVE = 10  # SQS's ReceiveMessage maximum
# The long poll of an idle loop (seconds; Lambda's pollers wait 20): short, so that the
# gateway stops promptly.
_LONG_POLL_SECONDS = 1
_ERROR_PAUSE_SECONDS = 1.0
_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=25)


@dataclass
class PollerStats:
    """What one mapping's poller did (for tests and `make bench-fanout`)."""

    invocations: int = 0
    failed_invocations: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributes as the Lambda event spells them."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        converted[name] = entry
    return converted


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda invokes a function with for a batch of SQS messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m.get("Body", ""),
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": _message_attributes(m.get("MessageAttributes") or {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def batch_failures(result: Any, message_ids: list[str]) -> set[str] | None:
    """The messages a `ReportBatchItemFailures` answer names as failed; None when the answer
    is invalid, which Lambda treats as the whole batch failing. No answer, an empty or null
    `batchItemFailures`: none failed."""
    if result is None:
        return set()
    if not isinstance(result, Mapping):
        return None
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


class QueuePoller:
    """The loops of one mapping, invoking `pool`. `credentials()` gives the function role's
    current credentials (None: this process's own)."""

    def __init__(
        self,
        mapping: QueueMapping,
        pool: FunctionPool,
        *,
        region: str,
        credentials: Callable[[], RoleCredentials | None],
    ) -> None:
        self.mapping = mapping
        self.pool = pool
        self.region = region
        self.stats = PollerStats()
        self._credentials = credentials
        self._client: Any = None
        self._client_credentials: RoleCredentials | None = None
        self.concurrency = mapping.concurrency(pool.function.reserved_concurrency)
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency + 1, thread_name_prefix="wslocal-sqs"
        )
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._run()) for _ in range(self.concurrency)]

    async def stop(self, grace: float) -> None:
        """Stop taking messages; give the invocations under way `grace` seconds to end.
        A batch cut short is not deleted: its messages come back after the visibility
        timeout, as after a crash."""
        self._stopping = True
        if self._loops:
            _, pending = await asyncio.wait(self._loops, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _sqs(self) -> Any:
        issued = self._credentials()
        if self._client is None or issued is not self._client_credentials:
            if issued is None:
                session = boto3.session.Session(region_name=self.region)
            else:
                session = boto3.session.Session(
                    aws_access_key_id=issued.access_key_id,
                    aws_secret_access_key=issued.secret_access_key,
                    aws_session_token=issued.session_token,
                    region_name=self.region,
                )
            self._client = session.client("sqs", config=_CONFIG)
            self._client_credentials = issued
        return self._client

    async def _call(self, operation: str, **params: Any) -> Any:
        client = self._sqs()
        method = getattr(client, operation)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: method(**params)
        )

    async def _run(self) -> None:
        while not self._stopping:
            try:
                batch = await self._receive()
                if batch:
                    await self._process(batch)
            except (BotoCoreError, ClientError) as exc:
                log.error("event source mapping %s: %s", self.mapping.uuid, exc)
                await asyncio.sleep(_ERROR_PAUSE_SECONDS)
            except Exception:  # a bug here must not stop the mapping for good
                log.exception("event source mapping %s: poller failed", self.mapping.uuid)
                await asyncio.sleep(_ERROR_PAUSE_SECONDS)

    async def _receive(self) -> list[dict[str, Any]]:
        """One batch: the first ReceiveMessage long-polls; more follow only within the
        batching window, while the batch and its payload have room."""
        mapping = self.mapping
        batch: list[dict[str, Any]] = []
        size = 0
        deadline = 0.0  # the window opens with the first messages
        while len(batch) < mapping.batch_size and not self._stopping:
            remaining = deadline - time.monotonic()
            if batch and remaining <= 0:
                break
            wait = _LONG_POLL_SECONDS if not batch else min(_LONG_POLL_SECONDS, int(remaining))
            found = await self._call(
                "receive_message",
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(_PER_RECEIVE, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = found.get("Messages") or []
            if messages and not batch:
                deadline = time.monotonic() + mapping.batching_window
            batch.extend(messages)
            size += sum(len(m.get("Body", "")) for m in messages)
            if not batch or mapping.batching_window <= 0 or size >= MAX_PAYLOAD_BYTES // 2:
                break
        self.stats.messages_received += len(batch)
        return batch

    async def _process(self, batch: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        stats = self.stats
        event = sqs_event(batch, mapping.queue_arn, self.region)
        stats.invocations += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            outcome: Invocation = await self.pool.invoke(event, str(uuid.uuid4()))
        finally:
            stats.in_flight -= 1
        ids = [m["MessageId"] for m in batch]
        failed: set[str] | None
        if outcome.error is not None:
            log.warning(
                "event source mapping %s: %s failed (%s: %s); its %d messages return after "
                "the visibility timeout",
                mapping.uuid,
                self.pool.function.name,
                outcome.error.error_type,
                outcome.error.message,
                len(batch),
            )
            failed = None
        elif mapping.report_batch_item_failures:
            failed = batch_failures(outcome.result, ids)
            if failed is None:
                log.warning(
                    "event source mapping %s: invalid batchItemFailures; the whole batch fails",
                    mapping.uuid,
                )
        else:
            failed = set()
        if failed is None:
            stats.failed_invocations += 1
            return
        await self._delete([m for m in batch if m["MessageId"] not in failed])

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), _PER_RECEIVE):
            chunk = messages[start : start + _PER_RECEIVE]
            answer = await self._call(
                "delete_message_batch",
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            self.stats.messages_deleted += len(answer.get("Successful") or [])
            for failure in answer.get("Failed") or []:
                log.warning(
                    "event source mapping %s: a processed message was not deleted (%s); it "
                    "comes back",
                    self.mapping.uuid,
                    failure.get("Code"),
                )
