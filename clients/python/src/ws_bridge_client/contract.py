"""What the client shares with the other parts.

Generated from contract/contract.json by tools/contract.py (make contract): do not edit.
"""

from __future__ import annotations

from typing import Literal

MAX_MESSAGE_BYTES = 131072
MAX_FRAME_BYTES = 32768
HANDLER_ERROR_CODES = (
    "invalid_json",
    "not_an_object",
    "message_too_large",
    "invalid_request",
    "token_expired",
    "backend_unavailable",
    "backend_timeout",
    "backend_error",
    "backend_invalid_reply",
    "internal_error",
)

# The session protocol (docs/design.md, "Session protocol").
ID_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"
CLIENT_ID_LENGTH = 12
type ClientErrorCode = Literal[
    "refused",
    "connect_timeout",
    "reply_timeout",
    "connection_lost",
    "closed",
    "no_token",
    "message_too_large",
    "queue_full",
    "kicked",
    "gave_up",
    "resume_failed",
]
CLIENT_ERROR_CODES: tuple[ClientErrorCode, ...] = (
    "refused",
    "connect_timeout",
    "reply_timeout",
    "connection_lost",
    "closed",
    "no_token",
    "message_too_large",
    "queue_full",
    "kicked",
    "gave_up",
    "resume_failed",
)
CLIENT_DEFAULTS_MS = {
    "connectTimeout": 25000,
    "replyTimeout": 30000,
    "keepalive": 300000,
    "gapTimeout": 2000,
    "maxDuration": 7200000,
    "rolloverMargin": 300000,
    "backoffBase": 1000,
    "backoffMax": 30000,
}
CLIENT_DEFAULTS = {"maxQueue": 100, "maxAttempts": 5}
# W3C Trace Context: frame field, backend header, a valid value, a new trace's flags.
TRACE_FIELD = "traceparent"
TRACE_HEADER = "traceparent"
TRACEPARENT_PATTERN = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
TRACE_NEW_FLAGS = "01"


class FrameType:
    """The `type` of every frame the protocol names."""

    PING = "ping"
    RESUME = "resume"
    PONG = "pong"
    ERROR = "error"
    RESUMED = "resumed"
    RESYNC_REQUIRED = "resync_required"
    PENDING = "pending"
    CHUNK = "chunk"
    ROTATE = "rotate"
    KICKED = "kicked"
