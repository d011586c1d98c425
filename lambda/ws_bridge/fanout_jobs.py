"""The fan-out queue's messages (contract.json "fanout"; docs/fanout.md), read and written.

Two kinds of job, each a JSON object with ``v`` (1) and ``data`` (the frame text to post):

- a list: ``connectionIds``, at most ``FANOUT_MAX_IDS_PER_MESSAGE`` ids;
- a topic shard page: ``topic``, ``shard`` and ``startKey`` (where the page starts: a
  DynamoDB ``LastEvaluatedKey``, opaque; null for the first page).

``attempt`` (absent: 0) counts how many times the ids of a list were sent back to the queue
after failed posts; the worker drops them after ``FANOUT_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ws_bridge_backend import contract

__all__ = ["Job", "encode_job", "parse_job"]

VERSION = contract.FANOUT_VERSION
_V = contract.FANOUT_FIELD_VERSION
_DATA = contract.FANOUT_FIELD_DATA
_IDS = contract.FANOUT_FIELD_CONNECTION_IDS
_TOPIC = contract.FANOUT_FIELD_TOPIC
_SHARD = contract.FANOUT_FIELD_SHARD
_START = contract.FANOUT_FIELD_START_KEY
_ATTEMPT = contract.FANOUT_FIELD_ATTEMPT
# An id API Gateway makes is 12 to 16 characters; this bound only keeps garbage out.
_MAX_ID_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Job:
    data: str
    connection_ids: tuple[str, ...] = ()
    topic: str | None = None
    shard: int = 0
    start_key: Mapping[str, Any] | None = None
    attempt: int = 0


def _ids(value: Any, limit: int) -> tuple[str, ...] | str:
    if not isinstance(value, list) or not value:
        return f"{_IDS} must be a non-empty list"
    if len(value) > limit:
        return f"{_IDS} holds {len(value)} ids, more than {limit}"
    if not all(isinstance(i, str) and 0 < len(i) <= _MAX_ID_LENGTH for i in value):
        return f"{_IDS} must hold connection ids (strings)"
    return tuple(dict.fromkeys(value))  # a duplicate id would be posted to twice


def parse_job(body: str, max_ids: int = contract.FANOUT_MAX_IDS_PER_MESSAGE) -> Job | str:
    """The job of a queue message's body, or why it is not one (a message that will never
    be good: the worker reports it, and SQS moves it to the dead-letter queue)."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        return "not JSON"
    if not isinstance(message, dict):
        return "not a JSON object"
    if message.get(_V) != VERSION:
        return f"{_V} must be {VERSION}"
    data = message.get(_DATA)
    if not isinstance(data, str) or not data:
        return f"{_DATA} must be a non-empty string"
    attempt = message.get(_ATTEMPT, 0)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        return f"{_ATTEMPT} must be a whole number"
    if _IDS in message:
        if _TOPIC in message:
            return f"a job has either {_IDS} or {_TOPIC}"
        ids = _ids(message[_IDS], max_ids)
        if isinstance(ids, str):
            return ids
        return Job(data=data, connection_ids=ids, attempt=attempt)
    topic, shard, start = message.get(_TOPIC), message.get(_SHARD), message.get(_START)
    if not isinstance(topic, str) or not topic:
        return f"a job needs {_IDS} or {_TOPIC}"
    if isinstance(shard, bool) or not isinstance(shard, int) or shard < 0:
        return f"{_SHARD} must be a whole number"
    if start is not None and not isinstance(start, dict):
        return f"{_START} must be an object or null"
    return Job(data=data, topic=topic, shard=shard, start_key=start, attempt=attempt)


def encode_job(job: Job) -> str:
    """The message body of ``job`` (compact JSON, UTF-8 kept)."""
    message: dict[str, Any] = {_V: VERSION, _DATA: job.data}
    if job.topic is None:
        message[_IDS] = list(job.connection_ids)
    else:
        message[_TOPIC] = job.topic
        message[_SHARD] = job.shard
        message[_START] = None if job.start_key is None else dict(job.start_key)
    if job.attempt:
        message[_ATTEMPT] = job.attempt
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
