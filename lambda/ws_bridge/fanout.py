"""The fan-out worker (handler string ``ws_bridge.fanout.handler``), fed by the fan-out queue
through an SQS event source mapping with ``ReportBatchItemFailures`` (docs/fanout.md).

Each record is one job (``ws_bridge.fanout_jobs``): a list of connection ids, or one page of
a topic shard. The worker posts ``data`` to each connection through ``@connections``, in
parallel (``FANOUT_CONCURRENCY`` threads), signed and sent without botocore's per-call
pipeline (``ws_bridge.connections_post``), one attempt per post (a post is not idempotent):

- sent: done;
- 410 ``GoneException``: the connection is gone; its record is deleted (only when older than
  ``GONE_GRACE_SECONDS``, as the SDK's push does) and so are its subscriptions;
- 429, 5xx, a network error, or no time left: the post may succeed later. The ids that
  failed, and ONLY those, go back to the queue as a new list job (``attempt`` + 1, delayed
  ``2 ** attempt`` seconds), and the record counts as done, so a retry never posts again
  to a connection already served. After ``FANOUT_MAX_ATTEMPTS`` they are dropped (logged,
  ``FanoutDropped``). A job none of whose posts went out is instead reported as a batch
  item failure: SQS retries that record alone, and after the queue's ``maxReceiveCount``
  moves it to the dead-letter queue;
- any other answer (403, 413, ...): would fail again; dropped and counted.

A topic page job first reads its page, then sends the NEXT page's job to the queue, and
only then posts: a failure of either step reports the record before anything was posted.
Pages of a shard are thus posted by successive invocations, shards in parallel.

What can still post twice: a post that timed out (the frame may have gone out, and the id is
sent back to the queue), and a record whose invocation died (timeout, crash) after posting:
SQS delivers it again. Both are at least once; clients that must not see a frame twice
number frames (the session protocol's ``seq``).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws, fanout_jobs, logs, metrics
from ws_bridge.connections_post import ConnectionsPoster
from ws_bridge.fanout_jobs import Job
from ws_bridge.settings import FanoutSettings
from ws_bridge_backend import topics
from ws_bridge_backend.registry import ConnectionRegistry, RegistryError

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

__all__ = ["GONE_GRACE_SECONDS", "Clients", "Posts", "handler", "post_all", "process"]

# A record younger than this survives a 410 (ws_bridge_backend.push.GONE_GRACE_SECONDS).
GONE_GRACE_SECONDS = 30
# Kept free at the end of an invocation for the sends back to the queue.
RESERVE_SECONDS = 5.0
# SQS's longest message delay.
MAX_DELAY_SECONDS = 900
# Error codes of a post that may succeed later.
_RETRIED_CODES = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}
)

log = logs.get_logger("fanout")


@dataclass(frozen=True, slots=True)
class Clients:
    management: ApiGatewayManagementApiClient
    dynamodb: DynamoDBClient
    sqs: SQSClient
    # Posts without botocore's per-call pipeline (ws_bridge.connections_post); None: through
    # ``management`` itself.
    poster: ConnectionsPoster | None = None


@dataclass(slots=True)
class Posts:
    """What became of the posts of one job."""

    sent: int = 0
    gone: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)  # 429, 5xx, network, no time left
    rejected: int = 0  # another 4xx: would fail again


def _code(exc: ClientError | BotoCoreError) -> tuple[str, int]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return str(error.get("Code", "Unknown")), int(status or 0)
    return type(exc).__name__, 0


def _post(
    management: ApiGatewayManagementApiClient,
    poster: ConnectionsPoster | None,
    connection_id: str,
    data: bytes,
    deadline: float,
) -> str:
    """``sent``, ``gone``, ``retry`` or ``rejected``."""
    if time.monotonic() >= deadline:
        return "retry"
    try:
        if poster is None:
            management.post_to_connection(ConnectionId=connection_id, Data=data)
            return "sent"
        answer = poster.post(connection_id, data)
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, BotoCoreError):  # no answer: refused, reset, timed out
            return "retry"
        code, status = _code(exc)
    else:
        if 200 <= answer.status < 300:
            return "sent"
        code, status = answer.code, answer.status
    if code == "GoneException" or status == 410:
        return "gone"
    if code in _RETRIED_CODES or status in (0, 429) or status >= 500:
        return "retry"
    log.warning("post rejected", extra={"target": connection_id, "code": code})
    return "rejected"


def post_all(
    management: ApiGatewayManagementApiClient,
    connection_ids: Sequence[str],
    data: bytes,
    *,
    pool: ThreadPoolExecutor,
    deadline: float,
    poster: ConnectionsPoster | None = None,
) -> Posts:
    """Post ``data`` to each connection once, up to the pool's size in parallel; a post
    that has not started by ``deadline`` (``time.monotonic()``) is left for a retry."""
    posts = Posts()
    outcomes = pool.map(lambda cid: _post(management, poster, cid, data, deadline), connection_ids)
    for connection_id, outcome in zip(connection_ids, outcomes, strict=True):
        if outcome == "sent":
            posts.sent += 1
        elif outcome == "gone":
            posts.gone.append(connection_id)
        elif outcome == "retry":
            posts.retry.append(connection_id)
        else:
            posts.rejected += 1
    return posts


def _forget(settings: FanoutSettings, clients: Clients, connection_id: str, now: float) -> None:
    """A connection API Gateway says is gone: its record and its subscriptions go."""
    registry = ConnectionRegistry(settings.connections_table, dynamodb=clients.dynamodb)
    cutoff_ms = int((now - GONE_GRACE_SECONDS) * 1000)
    try:
        if not registry.delete_gone(connection_id, connected_before_ms=cutoff_ms):
            return  # just connected: its $connect may still be running
        topics.forget_connection(clients.dynamodb, settings.subscriptions_table, connection_id)
    except (RegistryError, topics.TopicError) as exc:
        log.warning(
            "gone connection not forgotten", extra={"target": connection_id, "code": exc.code}
        )


def _send(clients: Clients, settings: FanoutSettings, job: Job, delay: int = 0) -> bool:
    try:
        clients.sqs.send_message(
            QueueUrl=settings.queue_url,
            MessageBody=fanout_jobs.encode_job(job),
            DelaySeconds=min(delay, MAX_DELAY_SECONDS),
        )
    except (ClientError, BotoCoreError) as exc:
        log.error("job not sent to the queue", extra={"code": _code(exc)[0]})
        return False
    return True


def _requeue(clients: Clients, settings: FanoutSettings, job: Job, ids: list[str]) -> bool:
    """Send the ids whose post failed back to the queue as a new job; False when that
    failed too (the caller then reports its record)."""
    attempt = job.attempt + 1
    if attempt > settings.max_attempts:
        log.error("posts dropped after the last attempt", extra={"count": len(ids)})
        metrics.add("FanoutDropped", len(ids))
        return True
    retry = Job(data=job.data, connection_ids=tuple(ids), attempt=attempt)
    if not _send(clients, settings, retry, delay=2**attempt):
        return False
    metrics.add("FanoutRequeued", len(ids))
    return True


def run_job(
    job: Job,
    settings: FanoutSettings,
    clients: Clients,
    pool: ThreadPoolExecutor,
    deadline: float,
    now: Callable[[], float] = time.time,
) -> bool:
    """Do one job; False when its record must be reported as a batch item failure."""
    ids: Sequence[str] = job.connection_ids
    if job.topic is not None:
        try:
            ids, next_key = topics.query_page(
                clients.dynamodb,
                settings.subscriptions_table,
                job.topic,
                job.shard,
                job.start_key,
                limit=settings.max_ids_per_message,
                now=now(),
            )
        except topics.TopicError as exc:
            log.warning("topic page not read", extra={"topic": job.topic, "code": exc.code})
            return False
        if next_key is not None:
            following = Job(data=job.data, topic=job.topic, shard=job.shard, start_key=next_key)
            if not _send(clients, settings, following):
                return False
    if not ids:
        return True
    posts = post_all(
        clients.management,
        ids,
        job.data.encode("utf-8"),
        pool=pool,
        deadline=deadline,
        poster=clients.poster,
    )
    metrics.add("FanoutSent", posts.sent)
    metrics.add("FanoutGone", len(posts.gone))
    if posts.rejected:
        metrics.add("FanoutDropped", posts.rejected)
    for connection_id in posts.gone:
        _forget(settings, clients, connection_id, now())
    if not posts.retry:
        return True
    if posts.sent == 0 and not posts.gone and job.topic is None:
        # Nothing went out: SQS may retry the very same record (with its own backoff and
        # dead-letter queue) without posting anything twice.
        return False
    return _requeue(clients, settings, job, posts.retry)


def process(
    event: Mapping[str, Any],
    settings: FanoutSettings,
    clients: Clients,
    pool: ThreadPoolExecutor,
    deadline: float,
) -> dict[str, Any]:
    """The batch response of an SQS event: the records to retry."""
    failures: list[dict[str, str]] = []
    records = event.get("Records")
    for record in records if isinstance(records, list) else []:
        message_id = str(record.get("messageId", ""))
        job = fanout_jobs.parse_job(str(record.get("body", "")), settings.max_ids_per_message)
        if isinstance(job, str):
            log.error("not a fan-out job", extra={"messageId": message_id, "reason": job})
            ok = False
        elif time.monotonic() + RESERVE_SECONDS >= deadline:
            ok = False  # no time to start it: SQS hands it out again
        else:
            try:
                ok = run_job(job, settings, clients, pool, deadline - RESERVE_SECONDS)
            except Exception:  # one record must not fail the batch: only it is retried
                log.exception("fan-out job failed", extra={"messageId": message_id})
                ok = False
        if not ok:
            metrics.count("FanoutFailedMessages")
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


# ---------------------------------------------------------------------------- entry point


@functools.cache
def _settings() -> FanoutSettings:
    settings = FanoutSettings.from_env()
    logs.configure(settings.log_level)
    return settings


@functools.cache
def _pool(size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="ws-bridge-fanout")


@functools.cache
def _poster(management: ApiGatewayManagementApiClient) -> ConnectionsPoster | None:
    """The poster for the (cached) client, with the credentials boto3's default session
    gave it."""
    session = boto3.DEFAULT_SESSION  # set up by boto3.client(), which made the client
    credentials = session.get_credentials() if session is not None else None
    return ConnectionsPoster.for_client(management, credentials)


def _endpoint(settings: FanoutSettings) -> str:
    """``AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`` when set (a local gateway), else
    ``CALLBACK_URL``."""
    configured = os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", "").strip()
    return configured or settings.callback_url


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point: an SQS batch in, ``{"batchItemFailures": [...]}`` out."""
    settings = _settings()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    millis = remaining() if callable(remaining) else None
    left = (
        float(millis) / 1000 if isinstance(millis, int | float) and math.isfinite(millis) else 60.0
    )
    deadline = time.monotonic() + left
    management = aws.management_api(_endpoint(settings), settings.concurrency)
    clients = Clients(
        management=management,
        dynamodb=aws.dynamodb_retrying(),
        sqs=aws.sqs(),
        poster=_poster(management),
    )
    with (
        logs.invocation(context),
        metrics.invocation(settings.metrics_namespace, settings.metrics_service),
    ):
        return process(
            event if isinstance(event, Mapping) else {},
            settings,
            clients,
            _pool(settings.concurrency),
            deadline,
        )
