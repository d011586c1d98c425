"""What the connection handler answers: the error codes of messages, the rejections of
``$connect``, and how a backend call's result maps to them (docs/design.md, "Backend
contract"). Every status and code the handler returns is decided from these tables."""

from __future__ import annotations

from typing import Any

from ws_bridge import json_codec
from ws_bridge.backend_client import BackendResult, Outcome
from ws_bridge_backend.contract import ERRORS, REJECTIONS, ErrorCode

__all__ = [
    "ERRORS",
    "REJECTIONS",
    "ErrorCode",
    "connect_rejection",
    "error_reply",
    "message_failure",
    "signature_refused",
]

# The error codes of message routes (ERRORS: the integration status, seen in access logs,
# and the text for the client; the reply body reaches the client whatever the status) and
# the $connect rejections (REJECTIONS: API Gateway refuses the upgrade with that status) are
# the contract's (contract/contract.json, "errors" and "rejections").


def error_reply(
    code: ErrorCode,
    request_id: str,
    message_id: str | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """The error for the client; ``message_id``: the ``id`` of the client's request, when it
    had a valid one (``client_message.message_id``), so the client knows which request
    failed; ``traceparent``: the message's trace. Never a ``seq``: the handler's frames are
    not part of the session's stream."""
    status, text = ERRORS[code]
    body = {"type": "error", "error": code, "message": text, "requestId": request_id}
    if message_id is not None:
        body["id"] = message_id
    if traceparent is not None:
        body["traceparent"] = traceparent
    return {"statusCode": status, "body": json_codec.encode(body)}


def signature_refused(result: BackendResult) -> bool:
    """The backend answered 401: it refused the handler's request signature."""
    return result.outcome is Outcome.RESPONDED and result.status == 401


def connect_rejection(result: BackendResult, fail_open: bool) -> str | None:
    """The rejection reason for a validate answer, or None to accept the connection."""
    if result.outcome is Outcome.UNSENDABLE:  # never sent: nothing to fail open on
        return "invalid_request"
    if result.outcome is Outcome.NOT_SIGNED:  # our fault, not the backend's: never fail open
        return "backend_unavailable"
    if result.outcome in (Outcome.RESPONDED, Outcome.TOO_LARGE):
        if 200 <= result.status < 300:
            return None
        if result.status == 401:
            return "backend_signature_refused"
        if result.status == 403:
            return "backend_forbidden"
        if 400 <= result.status < 500:
            return "backend_rejected"
        if result.status < 500:  # 1xx/3xx: the backend answered, but not per the contract
            return "backend_unavailable"
    # 5xx, timeout, unreachable: the only cases BACKEND_FAIL_OPEN may let through
    return None if fail_open else "backend_unavailable"


def message_failure(result: BackendResult) -> ErrorCode:
    if result.outcome is Outcome.UNSENDABLE:
        return "invalid_request"
    if result.outcome is Outcome.TIMEOUT:
        return "backend_timeout"
    if result.outcome in (Outcome.UNREACHABLE, Outcome.NOT_SIGNED):
        return "backend_unavailable"
    if result.outcome is Outcome.TOO_LARGE:
        return "backend_invalid_reply"
    return "backend_error"
