"""The demo's topic step: three more connections, two subscribed to a topic and one not, and
a broadcast to the topic through the fan-out queue, which the module's worker (from the
deployed zip, run by the gateway's SQS poller) posts to ``@connections``.

Each subscriber must get the broadcast exactly once, and the connection that is not
subscribed nothing: once the queue is empty (every job done) the three connections are
watched for ``QUIET_SECONDS`` more. Each listener has a session of its own, so that no
session reply of another connection reaches it. At the end the three connections close and
their ``$disconnect`` deletes their subscriptions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any, Final

from websockets.exceptions import ConnectionClosed

from wslocal.client import HandshakeRejected, WsClient
from wslocal.demo.context import Demo, DemoFailed, check, poll, reply
from wslocal.devtoken import mint_token

__all__ = ["TOPIC", "TOPIC_SESSIONS", "TOPIC_SIGNED_CALLS", "topic_broadcast"]

TOPIC: Final = "news/demo"
# (user, session, subscribed when the broadcast goes); each listener in a session of its own.
LISTENERS: Final = (("alice", "news-1", True), ("bob", "news-2", True), ("carol", "news-3", False))
TOPIC_SESSIONS: Final = tuple(f"{session}:{user}" for user, session, _ in LISTENERS)
# The backend calls of the step: 3 validates, 4 messages (two subscribes, carol's subscribe
# and unsubscribe) and 3 disconnects, each signed.
TOPIC_SIGNED_CALLS: Final = 10
# The first job may wait for the poller's long poll and the worker's first import.
DELIVERY_TIMEOUT: Final = 30.0
QUEUE_TIMEOUT: Final = 30.0
# After the queue is empty: how long every listener is watched for one more frame.
QUIET_SECONDS: Final = 1.0
_QUEUE_COUNTS: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def _shown(frame: Mapping[str, Any]) -> str:
    return json.dumps({k: frame[k] for k in ("type", "topic", "error", "seq") if k in frame})


async def _open(demo: Demo, user: str, session: str) -> WsClient:
    client = WsClient(demo.ws_url, mint_token(demo.jwt_key, sub=user, session_id=session))
    try:
        await client.connect()
    except HandshakeRejected as err:
        raise DemoFailed(f"{user}/{session}: the handshake was refused ({err.status})") from None
    return client


async def _ask(demo: Demo, client: WsClient, user: str, kind: str, expected: str) -> None:
    message = {"type": kind, "topic": TOPIC, "id": f"{kind}-{user}"}
    await client.send_json(message)
    answer = await reply(client, expected)
    check(answer.get("topic") == TOPIC, f"{user}: {kind} answered {answer!r}")
    demo.transcript.note(f"{user:<5} -> {json.dumps(message)}  <- {_shown(answer)}")


async def _frames_within(client: WsClient, seconds: float) -> list[Any]:
    """Every frame that arrives on `client` within `seconds`."""
    frames: list[Any] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(await client.receive_json(left))
        except TimeoutError:
            break
        except ConnectionClosed as err:
            raise DemoFailed(f"a listener's connection closed: {err}") from None
    return frames


def _queue_empty(demo: Demo, queue_url: str) -> bool | None:
    counts = demo.stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(_QUEUE_COUNTS)
    )["Attributes"]
    return True if all(int(counts.get(name, 0)) == 0 for name in _QUEUE_COUNTS) else None


def _subscribers(demo: Demo, table: str) -> dict[str, str]:
    """connectionId -> topicShard of every item in the subscriptions table."""
    items = demo.stack.client("dynamodb").scan(TableName=table)["Items"]
    return {item["connectionId"]["S"]: item["topicShard"]["S"] for item in items}


async def _close_and_forget(demo: Demo, listeners: Mapping[str, WsClient], table: str) -> None:
    """Close the listeners; wait for $disconnect to remove their records and subscriptions
    and for the backend's three notices (the disconnect step counts the signed calls)."""
    for client in listeners.values():
        await client.close(1000, "topic step done")

    def forgotten() -> bool | None:
        return None if _subscribers(demo, table) else True

    def told() -> bool | None:
        notices = demo.backend("GET", "/api/admin/disconnects")["disconnects"]
        sessions = {n.get("sessionId") for n in notices}
        return True if {s for _, s, _ in LISTENERS} <= sessions else None

    await poll(forgotten, "the listeners' subscriptions are still in the table")
    await poll(told, "the backend got no disconnect notice of a listener")


async def topic_broadcast(demo: Demo) -> str:
    """Two subscribers get the broadcast once, through the queue; the third nothing."""
    if not demo.topics:
        return "off (--no-topics): examples/local applied without its fan-out part"
    table = str(demo.stack.outputs.raw.get("subscriptions_table_name") or "")
    queue_url = str(demo.stack.outputs.raw.get("fanout_queue_url") or "")
    check(bool(table and queue_url), "examples/local outputs no subscriptions table or queue")
    listeners: dict[str, WsClient] = {}
    try:
        for user, session, _ in LISTENERS:
            listeners[user] = await _open(demo, user, session)
        demo.transcript.note(
            "connected: " + ", ".join(f"{u} ({s})" for u, s, _ in LISTENERS) + f"; topic {TOPIC}"
        )
        for user, _, subscribed in LISTENERS:
            await _ask(demo, listeners[user], user, "subscribe", "subscribed")
            if not subscribed:
                await _ask(demo, listeners[user], user, "unsubscribe", "unsubscribed")
        held = await asyncio.to_thread(_subscribers, demo, table)
        check(len(held) == 2, f"the subscriptions table should hold 2 items, holds {held}")
        demo.transcript.note(f"subscriptions table {table}: {', '.join(sorted(held.values()))}")
        await _broadcast(demo, listeners, queue_url)
    finally:
        if listeners:
            await _close_and_forget(demo, listeners, table)
    demo.transcript.note("closed: $disconnect removed the listeners' subscriptions")
    return (
        "each subscriber got it once, posted by the fan-out worker; the unsubscribed "
        "connection got nothing"
    )


async def _broadcast(demo: Demo, listeners: Mapping[str, WsClient], queue_url: str) -> None:
    news = {"type": "news", "text": "hello, subscribers"}
    request = {"topic": TOPIC, "data": news, "directThreshold": 0}
    answer = await asyncio.to_thread(demo.backend, "POST", "/api/admin/broadcast", request)
    demo.transcript.note(f"POST /api/admin/broadcast {json.dumps(request)}")
    demo.transcript.note(f"  -> {json.dumps(answer)}")
    check(
        answer.get("direct") is None and int(answer.get("queuedJobs") or 0) > 0,
        f"the broadcast should go through the queue, went {answer}",
    )
    started = time.monotonic()
    for user, _, subscribed in LISTENERS:
        if subscribed:
            frame = await _first(listeners[user], user)
            check(frame == news, f"{user} received {frame!r}, expected {news!r}")
            demo.transcript.note(f"{user:<5} <- {json.dumps(frame)}")
    arrived = time.monotonic() - started
    await poll(lambda: _queue_empty(demo, queue_url), "the queue is not empty", QUEUE_TIMEOUT)
    late = await asyncio.gather(
        *(_frames_within(listeners[user], QUIET_SECONDS) for user, _, _ in LISTENERS)
    )
    extra = {user: frames for (user, _, _), frames in zip(LISTENERS, late, strict=True) if frames}
    check(not extra, f"after the queue was empty, more frames arrived: {extra}")
    demo.transcript.note(
        f"delivered in {arrived:.1f} s; queue empty, then {QUIET_SECONDS:.0f} s of silence "
        "on all three: no second copy, and nothing for carol"
    )


async def _first(client: WsClient, user: str) -> Any:
    try:
        return await client.receive_json(DELIVERY_TIMEOUT)
    except TimeoutError:
        raise DemoFailed(
            f"{user} got no broadcast within {DELIVERY_TIMEOUT:.0f} s (the fan-out worker's "
            "log is the gateway's)"
        ) from None
