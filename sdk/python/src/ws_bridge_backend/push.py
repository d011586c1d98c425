"""Pushing messages to connected clients through the ``@connections`` API (``aws`` extra).

    pusher = Pusher(ConnectionRegistry(TABLE), endpoint_url=CALLBACK_URL)
    result = pusher.to_session("lab-1", {"type": "notice", "text": "hi"})

Find a session's or a user's connections in the registry, then ``PostToConnection`` each:

- API Gateway answers 410 (``GoneException``, caught before the ``ClientError`` it
  subclasses): the connection is gone, and THAT connection's record is deleted, only when
  it is older than ``GONE_GRACE_SECONDS`` (API Gateway also answers 410 while ``$connect``
  is still running, and that record belongs to a connection about to go live);
- the connection's token has expired (the record's ``tokenExpiresAt``): the message is not
  sent; the client gets the handler's ``token_expired`` error instead and the connection is
  closed (``DELETE @connections/{id}``), so it reconnects with a fresh token.

``endpoint_url`` is the stage's base URL, ``https://{api-id}.execute-api.{region}.
amazonaws.com/{stage}``: the module's ``callback_url`` output, without ``/@connections``
(boto3 adds ``/@connections/{connectionId}`` to each call).

One attempt per connection (``MANAGEMENT_API_CONFIG``): a post that failed may still have
been delivered, so it is reported as ``FAILED``, never sent twice. The exception is a 429
(``LimitExceededException``: ``@connections`` throttled the caller, or the client's buffer
is full): API Gateway refused that post, so it is sent again after a full-jitter backoff
(at most ``THROTTLE_BACKOFF_SECONDS * 2**n``, capped at ``THROTTLE_BACKOFF_CAP_SECONDS``),
at most ``THROTTLE_ATTEMPTS`` times in all and never past the push's deadline; a post still
refused then is ``FAILED``.

The posts of one push run in parallel: ``concurrency`` tasks on an event loop of the
Pusher's own (``ws_bridge_backend.event_loop``: a daemon thread, started at the first push)
take the connections one at a time, so 1,000 connections cost about 1,000 / 32 post
latencies, and a dead connection holds one task for at most its socket timeouts (1 s to
connect, 2 s to read). ``deadline_seconds`` bounds the whole push: connections not yet
posted to when it passes are left out and counted as ``skipped`` (never half-sent). The
methods are synchronous and thread-safe: the calling thread waits for the loop.

A ``Pusher`` given ``endpoint_url`` makes its boto3 client (``management``) and posts through
``ws_bridge_backend.connections_api``: the same signed request, sent by aiohttp with that
client's TLS and timeout settings, without botocore's per-call pipeline and without a thread
per post in flight, which together cost four times the CPU of the request itself and bound a
large push (docs/performance.md, "Push"). Given a ``management`` client (a stub, your own
configuration), or a client behind a proxy, it posts through that client's
``post_to_connection``, on a pool of ``concurrency`` threads. ``close()`` (or ``with
Pusher(...) as pusher``) stops the loop and closes its connections. ``concurrency`` bounds
the posts in flight of the Pusher, shared by the pushes of all threads that use it.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge_backend import contract
from ws_bridge_backend.connections_api import ConnectionsApi
from ws_bridge_backend.event_loop import Feed, LoopThread
from ws_bridge_backend.registry import ConnectionRecord, ConnectionRegistry, RegistryError

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

__all__ = [
    "GONE_GRACE_SECONDS",
    "MANAGEMENT_API_CONFIG",
    "MAX_MESSAGE_BYTES",
    "PUSH_CONCURRENCY",
    "THROTTLE_ATTEMPTS",
    "THROTTLE_BACKOFF_CAP_SECONDS",
    "THROTTLE_BACKOFF_SECONDS",
    "TOKEN_EXPIRED_FRAME",
    "PostOutcome",
    "PushResult",
    "Pusher",
    "encode_message",
]

type Message = Mapping[str, Any] | str | bytes

# API Gateway's largest WebSocket message (frame payload).
MAX_MESSAGE_BYTES = contract.MAX_MESSAGE_BYTES
# A record younger than this survives a 410: its $connect may not have answered yet (the
# handler's $connect takes at most its Lambda timeout, 29 s behind API Gateway's limit).
GONE_GRACE_SECONDS = 30
PUSH_CONCURRENCY = 32
# What a client whose token expired receives: the connection handler's token_expired error
# (a test compares the two), so every client reconnects with a fresh token alike.
TOKEN_EXPIRED_FRAME: Mapping[str, str] = {
    "type": "error",
    "error": "token_expired",
    "message": "The token has expired: reconnect with a fresh one.",
}

# @connections throttling (429): the post was refused, so it is sent again (the module's
# documentation). Full jitter: 32 threads throttled at once do not come back at once. The
# longest a post can wait on throttling: 0.05 + 0.1 + 0.2 + 0.4 + 0.8 = 1.55 s of sleeps.
THROTTLE_ATTEMPTS = 6
THROTTLE_BACKOFF_SECONDS = 0.05
THROTTLE_BACKOFF_CAP_SECONDS = 1.0
THROTTLED_CODES = frozenset({"LimitExceededException", "TooManyRequestsException"})

# @connections (PostToConnection) is not idempotent: after a read timeout or a 5xx the
# message may already have reached the client. One attempt only; the caller sees FAILED.
MANAGEMENT_API_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=1,
    read_timeout=2,
    max_pool_connections=PUSH_CONCURRENCY,
)

log = logging.getLogger("ws_bridge_backend.push")


class PostOutcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 410: the connection no longer exists; its record was deleted
    FAILED = "failed"  # any other error; the record is kept
    SKIPPED = "skipped"  # not posted: the push's deadline had passed
    EXPIRED = "expired"  # the token had expired: told so, and the connection closed


@dataclass(frozen=True, slots=True)
class PushResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0
    skipped: int = 0  # not attempted: the push's deadline had passed
    expired: int = 0  # not sent: the token had expired (the connection was closed)

    @property
    def attempted(self) -> int:
        return self.sent + self.gone + self.failed + self.expired


def encode_message(message: Message) -> bytes:
    """A mapping becomes compact strict JSON, a string UTF-8; at most 128 KB (API Gateway's
    limit). ``ValueError`` for a larger message, NaN/Infinity or a lone surrogate."""
    if isinstance(message, bytes):
        data = message
    elif isinstance(message, str):
        data = message.encode("utf-8")
    else:
        text = json.dumps(message, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        data = text.encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a message is at most {MAX_MESSAGE_BYTES} bytes, got {len(data)}")
    return data


def _code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _outcome(status: int, code: str) -> PostOutcome | None:
    """What an answer means; None: throttled (refused, to be sent again)."""
    if 200 <= status < 300:
        return PostOutcome.SENT
    if status == 410 or code == "GoneException":
        return PostOutcome.GONE
    if status == 429 or code in THROTTLED_CODES:
        return None
    return PostOutcome.FAILED


class Pusher:
    """Pushes to the connections in ``registry`` through ``@connections`` at
    ``endpoint_url`` (or the ``management`` client given), with ``concurrency`` posts in
    flight. Thread-safe; make one per process (boto3 clients are made here, once)."""

    def __init__(
        self,
        registry: ConnectionRegistry,
        endpoint_url: str | None = None,
        *,
        management: ApiGatewayManagementApiClient | None = None,
        concurrency: int = PUSH_CONCURRENCY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        api: ConnectionsApi | None = None
        if management is None:
            if not endpoint_url:
                raise ValueError("give either endpoint_url or management (a client)")
            # boto3's default session, as boto3.client() uses: its credentials sign the posts.
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            session = boto3.DEFAULT_SESSION
            assert session is not None  # set just above
            management = session.client(
                "apigatewaymanagementapi", endpoint_url=endpoint_url, config=MANAGEMENT_API_CONFIG
            )
            api = ConnectionsApi.for_client(management, session.get_credentials(), concurrency)
        self.registry = registry
        self.management = management
        self._api = api
        self.concurrency = concurrency
        self._clock = clock
        self._farewell = encode_message(TOKEN_EXPIRED_FRAME)
        # The posts' loop and the pool for blocking calls (a given client's posts, the
        # registry): started at the first push, stopped by close() or with this Pusher.
        self._loop = LoopThread(
            "ws-bridge-push", concurrency, on_close=api.close if api is not None else None
        )
        weakref.finalize(self, self._loop.close)

    def close(self) -> None:
        """Stop the posts' event loop and close its connections; a later push starts them
        again. A push still running is cancelled: its caller gets
        ``concurrent.futures.CancelledError`` (what it had posted stays posted). Also done
        when the Pusher is garbage collected or the interpreter exits."""
        self._loop.close()

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def to_session(
        self, session_id: str, message: Message, *, deadline_seconds: float | None = None
    ) -> PushResult:
        """Send ``message`` to every open connection of a session (``sessionId-index``)."""
        data = encode_message(message)  # once, and before any call: a bad message costs nothing
        return self._post_each(self.registry.for_session(session_id), data, deadline_seconds)

    def to_user(
        self, user_id: str, message: Message, *, deadline_seconds: float | None = None
    ) -> PushResult:
        """Send ``message`` to every open connection of a user (``userId-index``)."""
        data = encode_message(message)
        return self._post_each(self.registry.for_user(user_id), data, deadline_seconds)

    def to_connections(
        self,
        connections: Iterable[ConnectionRecord],
        message: Message,
        *,
        deadline_seconds: float | None = None,
    ) -> PushResult:
        """Send one message to each of ``connections``, in parallel."""
        return self._post_each(connections, encode_message(message), deadline_seconds)

    def post(self, connection: ConnectionRecord, data: bytes) -> PostOutcome:
        """Send ``data`` to one connection: see the module's documentation."""
        return self._loop.run(self._post(connection, data, None))

    async def _post(
        self, connection: ConnectionRecord, data: bytes, deadline: float | None
    ) -> PostOutcome:
        connection_id = connection.connection_id
        if connection.token_expired(self._clock()):
            await self._loop.blocking(self._close_expired, connection_id)
            return PostOutcome.EXPIRED
        attempts = 0
        while True:
            answered, code = await self._attempt(connection_id, data)
            attempts += 1
            if answered is not None:
                outcome = answered
                break
            if attempts == THROTTLE_ATTEMPTS:
                outcome = PostOutcome.FAILED  # refused each time: certainly not delivered
                break
            bound = min(
                THROTTLE_BACKOFF_CAP_SECONDS, THROTTLE_BACKOFF_SECONDS * 2 ** (attempts - 1)
            )
            pause = random.uniform(0, bound)  # noqa: S311 - jitter, not a secret
            if deadline is not None and time.monotonic() + pause >= deadline:
                outcome = PostOutcome.FAILED  # refused until the deadline: not delivered
                break
            log.debug("post throttled", extra={"target": connection_id, "attempt": attempts})
            await asyncio.sleep(pause)
        if outcome is PostOutcome.GONE:
            await self._loop.blocking(self._forget, connection_id)
        elif outcome is PostOutcome.FAILED:
            extra = {"target": connection_id, "code": code, "attempts": attempts}
            log.warning("post to connection failed", extra=extra)
        return outcome

    async def _attempt(self, connection_id: str, data: bytes) -> tuple[PostOutcome | None, str]:
        """One post and its outcome (None: throttled) with the error code, if any."""
        try:
            if self._api is None:
                await self._loop.blocking(self._post_with_client, connection_id, data)
                return PostOutcome.SENT, ""
            answer = await self._api.post(connection_id, data)
        except self.management.exceptions.GoneException:
            return PostOutcome.GONE, "GoneException"
        except ClientError as exc:
            code = _code(exc)
            return _outcome(_status(exc) or 500, code), code
        except BotoCoreError as exc:
            return PostOutcome.FAILED, _code(exc)
        return _outcome(answer.status, answer.code), answer.code

    def _post_with_client(self, connection_id: str, data: bytes) -> None:
        self.management.post_to_connection(ConnectionId=connection_id, Data=data)

    def _close_expired(self, connection_id: str) -> None:
        """The handler's token_expired error, then DELETE: the client reconnects with a
        fresh token, and $disconnect deletes the record. Best effort, each step logged."""
        for step in ("post", "delete"):
            try:
                if step == "post":
                    self.management.post_to_connection(
                        ConnectionId=connection_id, Data=self._farewell
                    )
                else:
                    self.management.delete_connection(ConnectionId=connection_id)
            except (ClientError, BotoCoreError) as exc:
                log.info(
                    "closing a connection whose token expired failed",
                    extra={"target": connection_id, "step": step, "code": _code(exc)},
                )
                if isinstance(exc, self.management.exceptions.GoneException):
                    return
        log.info("token expired: connection closed", extra={"target": connection_id})

    def _forget(self, connection_id: str) -> None:
        cutoff_ms = int(self._clock() * 1000) - GONE_GRACE_SECONDS * 1000
        try:
            deleted = self.registry.delete_gone(connection_id, connected_before_ms=cutoff_ms)
        except RegistryError as exc:
            log.warning(
                "stale record not deleted", extra={"target": connection_id, "code": exc.code}
            )
            return
        if deleted:
            log.info("connection gone, record deleted", extra={"target": connection_id})
        else:
            log.info(
                "connection gone but just connected, record kept", extra={"target": connection_id}
            )

    def _post_each(
        self, connections: Iterable[ConnectionRecord], data: bytes, deadline_seconds: float | None
    ) -> PushResult:
        deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds
        return self._loop.run(self._push(connections, data, deadline))

    async def _push(
        self, connections: Iterable[ConnectionRecord], data: bytes, deadline: float | None
    ) -> PushResult:
        feed = Feed(connections)  # each connection is taken, so posted to, once
        counts = dict.fromkeys(PostOutcome, 0)

        async def work() -> None:
            while (connection := await feed.take()) is not None:
                if deadline is not None and time.monotonic() >= deadline:
                    outcome = PostOutcome.SKIPPED
                else:
                    try:
                        outcome = await self._post(connection, data, deadline)
                    except Exception:  # one connection must not end the push
                        log.exception(
                            "post to connection failed", extra={"target": connection.connection_id}
                        )
                        outcome = PostOutcome.FAILED
                counts[outcome] += 1

        size = len(connections) if isinstance(connections, list | tuple) else self.concurrency
        await asyncio.gather(*(work() for _ in range(max(1, min(self.concurrency, size)))))
        if feed.error is not None:
            raise feed.error
        return PushResult(
            sent=counts[PostOutcome.SENT],
            gone=counts[PostOutcome.GONE],
            failed=counts[PostOutcome.FAILED],
            skipped=counts[PostOutcome.SKIPPED],
            expired=counts[PostOutcome.EXPIRED],
        )
