"""One trace per client message (docs/design.md, "Tracing"): the message's W3C
``traceparent``, or a new trace when it has none or an invalid one. The handler logs it on
every line for the message, sends it to the backend in the signed ``traceparent`` header and
returns it in the reply. API Gateway's WebSocket APIs are not traced by X-Ray, so the trace
travels in the frames themselves."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ws_bridge.settings import MAX_MESSAGE_BYTES
from ws_bridge_backend.traceparent import TRACE_FIELD, is_valid, new_traceparent

__all__ = ["message_trace", "traced_reply"]


def message_trace(parsed: Mapping[str, Any] | str) -> str:
    """The message's ``traceparent`` field when it is a valid W3C traceparent; otherwise
    (none, an invalid one, no message at all: an error code) a new trace."""
    if not isinstance(parsed, str):
        value = parsed.get(TRACE_FIELD)
        if is_valid(value):
            return value
    return new_traceparent()


def traced_reply(reply: str, size: int, trace: str) -> str:
    """The backend's JSON reply (``size`` bytes of UTF-8) with the message's trace as its
    last member, spliced into the text: the backend's own bytes are kept as they are (a
    numbered frame's ``seq`` stays its first member) and nothing is decoded again. Left as
    it is when the reply is not a JSON object, already has a ``traceparent``, or would
    outgrow API Gateway's message limit."""
    end = reply.rstrip()
    member = f'"{TRACE_FIELD}":"{trace}"}}'  # a valid traceparent needs no escaping
    if not end.endswith("}") or size + len(member) + 1 > MAX_MESSAGE_BYTES:
        return reply
    # JSON that ends in "}" is an object; decoded again only when it may hold the member.
    if f'"{TRACE_FIELD}"' in reply and TRACE_FIELD in json.loads(reply):
        return reply
    inside = end[:-1].rstrip()
    return f"{inside}{member}" if inside.endswith("{") else f"{inside},{member}"
