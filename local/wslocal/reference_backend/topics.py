"""Topics in the reference backend (LOCAL STACK ONLY: a test double, nothing deploys it), all
through the backend SDK (docs/fanout.md):

- a client's ``{"type": "subscribe" | "unsubscribe", "topic": ...}`` message, answered by
  ``Topics.handle`` as the message's reply (``subscribed``, ``unsubscribed``, or the error
  ``not_subscribed``). Who may subscribe to what (``may_subscribe``): any valid topic name,
  except the personal topics of another user, ``users/<userId>`` and what is under it;
- ``POST /api/admin/broadcast`` ``{"topic", "data", "directThreshold"?}``: the SDK's
  ``Broadcaster`` sends ``data`` to the topic's subscribers, directly through ``@connections``
  when there are at most ``directThreshold`` of them (default the SDK's), through the
  fan-out queue and the module's worker otherwise (``"directThreshold": 0``: always the
  queue). The answer: ``{"topic", "direct": {"sent", "gone", "failed"} | null,
  "queuedJobs"}``.

Both need the subscriptions table (``--subscriptions-table``, examples/local's
``subscriptions_table_name`` output, with ``fanout_enabled``); a queued broadcast also needs
the queue (``--fanout-queue-url``). Without them a subscribe is answered with the error
``topics_unavailable`` and a broadcast with 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import boto3

from ws_bridge_backend.broadcast import DIRECT_THRESHOLD, SQS_CONFIG, Broadcaster, BroadcastError
from ws_bridge_backend.topics import TopicError, Topics, check_topic
from wslocal.reference_backend.replies import Reply, RequestError, json_reply, parse_json

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ws_bridge_backend.calls import BridgeCall
    from ws_bridge_backend.push import Pusher

__all__ = ["TOPIC_MESSAGE_TYPES", "TopicDesk", "may_subscribe"]

TOPIC_MESSAGE_TYPES: Final = ("subscribe", "unsubscribe")
# A user's own topics: users/<userId>, users/<userId>/...
_PERSONAL_PREFIX: Final = "users/"


def may_subscribe(message: Mapping[str, Any], topic: str) -> bool:
    """The reference backend's rule: every topic but another user's personal ones."""
    if not topic.startswith(_PERSONAL_PREFIX):
        return True
    owner = topic.removeprefix(_PERSONAL_PREFIX).split("/", 1)[0]
    return bool(owner) and owner == message.get("userId")


class TopicDesk:
    """The SDK's ``Topics`` over the subscriptions table, and broadcasts to a topic through
    ``pusher`` (direct) or the queue at ``queue_url`` (``sqs``: its client, None builds
    one). Without a pusher (no connections table) a broadcast is refused; without a queue
    every audience is pushed to directly."""

    def __init__(
        self,
        topics: Topics,
        pusher: Pusher | None,
        *,
        queue_url: str | None = None,
        sqs: SQSClient | None = None,
        direct_threshold: int = DIRECT_THRESHOLD,
    ) -> None:
        if direct_threshold < 0:
            raise ValueError("direct_threshold must be >= 0")
        self.topics = topics
        self.pusher = pusher
        self.queue_url = queue_url
        self.direct_threshold = direct_threshold
        self._sqs = sqs

    def answer(self, call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        """The reply to a subscribe or unsubscribe message (with the handler's ids, which
        ``Topics.handle`` reads, over whatever the client wrote)."""
        ids = {
            "connectionId": call.connection_id,
            "sessionId": call.session_id,
            "userId": call.user_id,
        }
        try:
            reply = self.topics.handle({**message, **ids}, may_subscribe)
        except TopicError as err:
            raise RequestError(502, "topics_failed", f"the subscription failed: {err}") from err
        if reply is None:  # not a valid topic request: no topic, or an invalid name
            raise RequestError(400, "invalid_topic", "topic must be a valid topic name")
        return reply

    def broadcast(self, body: bytes) -> Reply:
        """``POST /api/admin/broadcast``."""
        request = parse_json(body)
        if not isinstance(request, dict):
            raise RequestError(400, "invalid_broadcast", "the body is a JSON object")
        topic, data = request.get("topic"), request.get("data")
        threshold = request.get("directThreshold", self.direct_threshold)
        try:
            check_topic(topic)  # type: ignore[arg-type]
        except ValueError:
            raise RequestError(400, "invalid_topic", "topic must be a valid topic name") from None
        if not isinstance(data, dict | str):
            raise RequestError(400, "invalid_broadcast", "data is a JSON object or a string")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise RequestError(400, "invalid_broadcast", "directThreshold is an integer >= 0")
        if self.pusher is None:
            raise RequestError(503, "broadcast_unavailable", "start the backend with --table")
        broadcaster = Broadcaster(
            self.pusher,
            self.topics,
            queue_url=self.queue_url,
            sqs=self._queue_client(),
            direct_threshold=threshold,
        )
        try:
            result = broadcaster.broadcast(topic=topic, data=data)
        except ValueError as err:  # a message over 128 KB, or not UTF-8 for the queue
            raise RequestError(400, "invalid_broadcast", str(err)) from None
        except (BroadcastError, TopicError) as err:
            raise RequestError(502, "broadcast_failed", str(err)) from err
        direct = result.direct
        counts = (
            None
            if direct is None
            else {"sent": direct.sent, "gone": direct.gone, "failed": direct.failed}
        )
        return json_reply(200, {"topic": topic, "direct": counts, "queuedJobs": result.queued_jobs})

    def _queue_client(self) -> SQSClient | None:
        """One SQS client for every broadcast (built at the first, with the SDK's settings)."""
        if self.queue_url is not None and self._sqs is None:
            self._sqs = boto3.client("sqs", config=SQS_CONFIG)
        return self._sqs
