"""SQS as Lambda's event source mappings and concurrent consumers need it, added to moto.

moto 5 has three gaps that the local fan-out (an SQS queue polled by the local gateway for
each event source mapping, several pollers at once) falls into:

- On SendMessage, moto itself invokes the functions mapped to the queue (through its own
  Lambda, which the emulator never runs) and deletes the messages: nothing would be left
  for the gateway, which polls the queue as Lambda does. `install()` hides a queue's
  mappings from moto's queue; `ListEventSourceMappings` still lists them.
- ReceiveMessage is not atomic: two pollers at once can both take the same visible message
  (each checks it is visible, then marks it received), which SQS never does within the
  visibility timeout. Receiving is done under the queue's lock here, and a long poll waits
  outside it, so one poller's wait never holds up the others.
- DeleteMessage rebuilds the queue's list of messages without that lock, so a message sent
  during a delete could vanish. Deleting is done under the lock too.

A fourth gap meets Terraform: moto answers a queue's `RedrivePolicy` as `json.dumps` writes
it (`{"deadLetterTargetArn": "...", "maxReceiveCount": 5}`), SQS without spaces, and every
plan after the apply wants to update the queue ("whitespace changes"). It is answered
compact here, as SQS answers it. (Each `aws_sqs_queue` still takes about 25 s to create:
the provider reads the attributes back six times, 5 s apart, on AWS as here.) And a fifth:
moto keeps a queue's `RedriveAllowPolicy` but never answers it, so the provider's
`aws_sqs_queue_redrive_allow_policy` waits for it until its apply times out. It is answered
here as it was set, and left out again once set to "" (as SQS removes it), which that
resource's destroy waits for.

moto already moves a message to the dead-letter queue as SQS does: at the receive after
the `maxReceiveCount`-th (the redrive policy's), the message goes to the DLQ instead.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from moto.sqs.models import Queue, SQSBackend

__all__ = ["install"]

_MARK = "_wslocal_sqs"
# A long poll looks again at least this often (seconds): a message made visible again by its
# visibility timeout wakes nobody, unlike one sent.
_POLL_STEP = 0.2


def _no_mappings(self: Queue) -> dict[str, Any]:
    """What moto's queue sees of its event source mappings: none, so that sending never
    invokes a function from inside the emulator."""
    return {}


def _ignore_mappings(self: Queue, value: dict[str, Any]) -> None:
    """moto's Queue and CreateEventSourceMapping assign or fill the dict: nothing to keep."""


def _atomic_receive(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    @functools.wraps(original)
    def receive_message(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        queue = self.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with queue._messages_lock:
                found = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            queue.wait_for_messages(min(_POLL_STEP, remaining))  # type: ignore[arg-type]

    return receive_message


def _locked_delete(original: Callable[[Queue, str], None]) -> Callable[[Queue, str], None]:
    @functools.wraps(original)
    def delete_message(self: Queue, receipt_handle: str) -> None:
        with self._messages_lock:
            original(self, receipt_handle)

    return delete_message


def _compact_redrive(original: property) -> property:
    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = original.fget(self)  # type: ignore[misc]
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        if not result.get("RedriveAllowPolicy"):  # never set, or removed (set to "")
            result.pop("RedriveAllowPolicy", None)
        return result

    return property(attributes)


def install() -> None:
    """Patch moto's SQS in this process. Idempotent."""
    if getattr(Queue, _MARK, False):
        return
    Queue.lambda_event_source_mappings = property(_no_mappings, _ignore_mappings)  # type: ignore[assignment]
    SQSBackend.receive_message = _atomic_receive(SQSBackend.receive_message)  # type: ignore[method-assign]
    Queue.delete_message = _locked_delete(Queue.delete_message)  # type: ignore[method-assign,assignment]
    Queue.attributes = _compact_redrive(Queue.__dict__["attributes"])  # type: ignore[method-assign,assignment]
    # Answered by name or with All (as set: moto keeps the string SetQueueAttributes gave);
    # None, which the answer leaves out, until a policy is set.
    Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]
    Queue.redrive_allow_policy = None  # type: ignore[attr-defined]
    setattr(Queue, _MARK, True)
