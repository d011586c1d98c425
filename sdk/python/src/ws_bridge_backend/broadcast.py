"""Broadcasting one message to a topic, a session or a user (``aws`` extra; docs/fanout.md).

    broadcaster = Broadcaster(pusher, topics, queue_url=FANOUT_QUEUE_URL)
    broadcaster.broadcast(topic="prices/eu", data={"type": "price", "eur": 1.08})

A small audience (at most ``direct_threshold`` connections) is posted to at once, here,
through the :class:`~ws_bridge_backend.push.Pusher`. A larger one goes to the fan-out queue
(``fanout.enabled`` in Terraform; its ``fanout_queue_url`` output) for the worker: a session's
or a user's connection ids in jobs of at most ``max_ids_per_message`` ids, a topic as one job
per shard, whose pages the worker reads itself. Jobs are sent with ``SendMessageBatch``: up to
10 entries and 256 KiB per call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_backend import contract
from ws_bridge_backend.push import Message, Pusher, PushResult, encode_message
from ws_bridge_backend.registry import ConnectionRecord
from ws_bridge_backend.topics import Topics, check_topic

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

__all__ = ["BroadcastError", "BroadcastResult", "Broadcaster", "job_bodies"]

DIRECT_THRESHOLD = contract.FANOUT_DIRECT_THRESHOLD
MAX_IDS_PER_MESSAGE = contract.FANOUT_MAX_IDS_PER_MESSAGE
MAX_BATCH_ENTRIES = contract.FANOUT_SEND_BATCH_ENTRIES
MAX_BATCH_BYTES = contract.FANOUT_MAX_QUEUE_MESSAGE_BYTES
_F = {
    "v": contract.FANOUT_FIELD_VERSION,
    "data": contract.FANOUT_FIELD_DATA,
    "ids": contract.FANOUT_FIELD_CONNECTION_IDS,
    "topic": contract.FANOUT_FIELD_TOPIC,
    "shard": contract.FANOUT_FIELD_SHARD,
    "start": contract.FANOUT_FIELD_START_KEY,
}

SQS_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=1, read_timeout=5
)


class BroadcastError(Exception):
    """Jobs the queue did not take (after one retry of the failed entries)."""

    def __init__(self, unsent: int, code: str) -> None:
        super().__init__(f"{unsent} fan-out jobs not queued: {code}")
        self.unsent = unsent
        self.code = code


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """``direct``: the push's result when the audience was small; ``queued_jobs`` and
    ``queued_ids`` (0 for topic shard jobs, whose ids the worker reads) otherwise."""

    direct: PushResult | None = None
    queued_jobs: int = 0
    queued_ids: int = 0


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def job_bodies(
    data: str,
    *,
    connection_ids: Sequence[str] = (),
    topic: str | None = None,
    shards: int = 0,
    max_ids: int = MAX_IDS_PER_MESSAGE,
) -> Iterator[str]:
    """The queue message bodies of a broadcast: ids in slices of ``max_ids``, or one job
    per shard of ``topic`` (from its first page)."""
    if topic is not None:
        for shard in range(shards):
            yield _compact(
                {
                    _F["v"]: 1,
                    _F["data"]: data,
                    _F["topic"]: topic,
                    _F["shard"]: shard,
                    _F["start"]: None,
                }
            )
        return
    # A slice also ends where its body would outgrow one queue message: a 128 KB frame
    # escaped as a JSON string leaves room for fewer ids.
    room = MAX_BATCH_BYTES - len(_compact({_F["v"]: 1, _F["data"]: data, _F["ids"]: []}).encode())
    ids: list[str] = []
    used = 0
    for connection_id in connection_ids:
        cost = len(_compact(connection_id).encode()) + 1
        if ids and (len(ids) == max_ids or used + cost > room):
            yield _compact({_F["v"]: 1, _F["data"]: data, _F["ids"]: ids})
            ids, used = [], 0
        if cost > room:
            raise ValueError("the frame leaves no room for a connection id in a queue message")
        ids.append(connection_id)
        used += cost
    if ids:
        yield _compact({_F["v"]: 1, _F["data"]: data, _F["ids"]: ids})


class Broadcaster:
    """Broadcasts through ``pusher`` (small audiences) or the queue at ``queue_url``."""

    def __init__(
        self,
        pusher: Pusher,
        topics: Topics | None = None,
        *,
        queue_url: str | None = None,
        sqs: SQSClient | None = None,
        direct_threshold: int = DIRECT_THRESHOLD,
        max_ids_per_message: int = MAX_IDS_PER_MESSAGE,
    ) -> None:
        if direct_threshold < 0 or max_ids_per_message < 1:
            raise ValueError("direct_threshold must be >= 0 and max_ids_per_message >= 1")
        self.pusher = pusher
        self.topics = topics
        self.queue_url = queue_url
        self.sqs: SQSClient | None = sqs
        if sqs is None and queue_url is not None:
            self.sqs = boto3.client("sqs", config=SQS_CONFIG)
        self.direct_threshold = direct_threshold
        self.max_ids = max_ids_per_message

    def broadcast(
        self,
        *,
        data: Message,
        topic: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        deadline_seconds: float | None = None,
    ) -> BroadcastResult:
        """Send ``data`` to exactly one of: ``topic``'s subscribers, ``session_id``'s or
        ``user_id``'s connections. ``deadline_seconds`` bounds a direct push only."""
        if sum(x is not None for x in (topic, session_id, user_id)) != 1:
            raise ValueError("give exactly one of topic, session_id or user_id")
        frame = encode_message(data)  # before any call: a bad message costs nothing
        if topic is not None:
            return self._to_topic(check_topic(topic), data, frame, deadline_seconds)
        registry = self.pusher.registry
        records = (
            registry.for_session(session_id)
            if session_id is not None
            else registry.for_user(str(user_id))
        )
        if len(records) <= self.direct_threshold or self.queue_url is None:
            return BroadcastResult(
                direct=self.pusher.to_connections(records, data, deadline_seconds=deadline_seconds)
            )
        ids = [record.connection_id for record in records]
        jobs = self._enqueue(job_bodies(_text(frame), connection_ids=ids, max_ids=self.max_ids))
        return BroadcastResult(queued_jobs=jobs, queued_ids=len(ids))

    def _to_topic(
        self, topic: str, data: Message, frame: bytes, deadline_seconds: float | None
    ) -> BroadcastResult:
        if self.topics is None:
            raise ValueError("a topic broadcast needs a Topics (the subscriptions table)")
        # Read until the audience is known to be small, or known not to be.
        found: list[str] = []
        large = False
        for shard in range(self.topics.shards):
            for ids in self.topics.pages(topic, shard, limit=self.direct_threshold + 1):
                found += ids
                large = len(found) > self.direct_threshold
                if large:
                    break
            if large:
                break
        if not large or self.queue_url is None:
            if large:
                found = list(self.topics.subscribers(topic))
            records = [ConnectionRecord(cid, "", "", 0, 0) for cid in found]
            return BroadcastResult(
                direct=self.pusher.to_connections(records, data, deadline_seconds=deadline_seconds)
            )
        bodies = job_bodies(_text(frame), topic=topic, shards=self.topics.shards)
        return BroadcastResult(queued_jobs=self._enqueue(bodies))

    def _enqueue(self, bodies: Iterator[str]) -> int:
        """Send every body with SendMessageBatch (10 entries, 256 KiB a call); how many."""
        sent = 0
        batch: list[SendMessageBatchRequestEntryTypeDef] = []
        size = 0
        for body in bodies:
            length = len(body.encode("utf-8"))
            if batch and (len(batch) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
                sent += self._send_batch(batch)
                batch, size = [], 0
            batch.append({"Id": str(len(batch)), "MessageBody": body})
            size += length
        if batch:
            sent += self._send_batch(batch)
        return sent

    def _send_batch(self, entries: list[SendMessageBatchRequestEntryTypeDef]) -> int:
        if self.sqs is None or self.queue_url is None:
            raise ValueError("a broadcast through the queue needs queue_url")
        pending = entries
        code = "Unknown"
        for _round in range(2):
            try:
                answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=pending)
            except (ClientError, BotoCoreError) as exc:
                code = (
                    str(exc.response.get("Error", {}).get("Code", "Unknown"))
                    if isinstance(exc, ClientError)
                    else type(exc).__name__
                )
                continue
            failed = {entry["Id"] for entry in answer.get("Failed", [])}
            if not failed:
                return len(entries)
            code = str(answer["Failed"][0].get("Code", "Unknown"))
            pending = [entry for entry in pending if entry["Id"] in failed]
        raise BroadcastError(len(pending), code)


def _text(frame: bytes) -> str:
    """The queue carries text: a frame must be UTF-8."""
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("a broadcast through the queue must be UTF-8 text") from None
