"""What the connection handler answers: the error codes of messages, the rejections of
``$connect``, and how a backend call's result maps to them (docs/design.md, "Backend
contract"). Every status and code the handler returns is decided from these tables."""

from __future__ import annotations

from typing import Any, Literal

from ws_bridge import json_codec
from ws_bridge.backend_client import BackendResult, Outcome

__all__ = [
    "ERRORS",
    "REJECTIONS",
    "ErrorCode",
    "connect_rejection",
    "error_reply",
    "message_failure",
    "signature_refused",
]

type ErrorCode = Literal[
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
]

# Message routes: the integration status (seen in access logs) and the text for the client.
# The reply body reaches the client whatever the status.
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    "invalid_json": (400, "The message must be UTF-8 JSON."),
    "not_an_object": (400, "The message must be a JSON object."),
    "message_too_large": (413, "The message is larger than 128 KB."),
    "invalid_request": (400, "The request holds text that cannot be sent to the backend."),
    "token_expired": (401, "The token has expired: reconnect with a fresh one."),
    "backend_unavailable": (502, "The backend cannot be reached."),
    "backend_timeout": (504, "The backend did not answer in time."),
    "backend_error": (502, "The backend could not handle the message."),
    "backend_invalid_reply": (502, "The backend's reply was not usable JSON."),
    "internal_error": (500, "The message could not be handled."),
}

# $connect rejections: API Gateway refuses the upgrade with this status.
REJECTIONS: dict[str, int] = {
    "not_authorized": 401,  # no authorizer identity or no token (should not pass the authorizer)
    "session_required": 400,
    "invalid_request": 400,  # a token or session id that cannot be sent in a request
    # 401 from any backend call: the backend refused the handler's request signature, a
    # fault on the server side (keys out of step), not a verdict on the client's token.
    "backend_signature_refused": 502,
    "backend_forbidden": 403,
    "backend_rejected": 400,  # 404 and other 4xx from the validate endpoint
    "backend_unavailable": 502,  # 5xx, timeout, unreachable, unusable answer (fail closed)
    "registry_unavailable": 503,  # DynamoDB throttled or unreachable after retries
    "registry_error": 500,
    "internal_error": 500,
}


def error_reply(code: ErrorCode, request_id: str, message_id: str | None = None) -> dict[str, Any]:
    """The error for the client; ``message_id``: the ``id`` of the client's request, when it
    had a valid one (``client_message.message_id``), so the client knows which request
    failed. Never a ``seq``: the handler's frames are not part of the session's stream."""
    status, text = ERRORS[code]
    body = {"type": "error", "error": code, "message": text, "requestId": request_id}
    if message_id is not None:
        body["id"] = message_id
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
