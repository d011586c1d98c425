"""The connection handler (handler string ``ws_bridge.handler.handler``).

``$connect`` validates the session with the backend and only then stores the connection;
``$disconnect`` deletes it and tells the backend; every other route (``$default`` and custom
routes) answers ``ping`` itself and forwards the rest to the backend, whose JSON reply goes
back to the client. Every status and error code is decided in this module, from the tables
below; nothing raises out of :func:`handler`.

Time: a backend call never outlasts its configured timeout nor the time the Lambda has left
(``context.get_remaining_time_in_millis()``) minus what must still happen after it (for
``$connect``, DynamoDB's worst case, ``aws.REGISTRY_BUDGET_SECONDS``), so the handler answers
with a clean error before Lambda ends the invocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import urllib3

from ws_bridge import backend_client, logs
from ws_bridge.aws import REGISTRY_BUDGET_SECONDS
from ws_bridge.backend_client import BackendResult, Outcome
from ws_bridge.connections_table import (
    Connection,
    RegistryError,
    delete_connection,
    new_connection,
    put_connection,
)
from ws_bridge.settings import MAX_MESSAGE_BYTES, HandlerSettings
from ws_bridge.token_sources import bearer_offered, find_tokens

__all__ = [
    "ERRORS",
    "RequestInfo",
    "connect",
    "disconnect",
    "error_reply",
    "handler",
    "message",
]

MAX_JSON_DEPTH = 64
# Kept free at the end of an invocation to log and answer after the last call.
ANSWER_MARGIN_SECONDS = 0.5

type ErrorCode = Literal[
    "invalid_json",
    "not_an_object",
    "message_too_large",
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
    "backend_unauthorized": 401,
    "backend_forbidden": 403,
    "backend_rejected": 400,  # 404 and other 4xx from the validate endpoint
    "backend_unavailable": 502,  # 5xx, timeout, unreachable, unusable answer (fail closed)
    "registry_unavailable": 503,  # DynamoDB throttled or unreachable after retries
    "registry_error": 500,
    "internal_error": 500,
}

log = logs.get_logger("handler")


def _str(mapping: Mapping[str, Any], name: str) -> str:
    value = mapping.get(name)
    return value if isinstance(value, str) else ""


def _int(mapping: Mapping[str, Any], name: str) -> int | None:
    value = mapping.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The fields of an API Gateway WebSocket event that the handler uses."""

    route_key: str
    event_type: str
    connection_id: str
    request_id: str
    connected_at: int | None
    user_id: str  # from the authorizer context: never from the client
    session_id: str  # from the authorizer context: never from the client
    session_source: str  # "token" (a claim of the verified token), "query" or ""
    disconnect_status_code: int | None
    disconnect_reason: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RequestInfo:
        context = event.get("requestContext")
        context = context if isinstance(context, Mapping) else {}
        authorizer = context.get("authorizer")
        authorizer = authorizer if isinstance(authorizer, Mapping) else {}
        return cls(
            route_key=_str(context, "routeKey"),
            event_type=_str(context, "eventType"),
            connection_id=_str(context, "connectionId"),
            request_id=_str(context, "requestId"),
            connected_at=_int(context, "connectedAt"),
            user_id=_str(authorizer, "userId"),
            session_id=_str(authorizer, "sessionId"),
            session_source=_str(authorizer, "sessionSource"),
            disconnect_status_code=_int(context, "disconnectStatusCode"),
            disconnect_reason=_str(context, "disconnectReason"),
        )

    @property
    def kind(self) -> Literal["connect", "disconnect", "message"]:
        if self.route_key == "$connect" or (not self.route_key and self.event_type == "CONNECT"):
            return "connect"
        if self.route_key == "$disconnect" or (
            not self.route_key and self.event_type == "DISCONNECT"
        ):
            return "disconnect"
        return "message"


# ---------------------------------------------------------------------------- responses


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def error_reply(code: ErrorCode, request_id: str) -> dict[str, Any]:
    status, text = ERRORS[code]
    body = {"type": "error", "error": code, "message": text, "requestId": request_id}
    return {"statusCode": status, "body": _json(body)}


def _reject(reason: str) -> dict[str, Any]:
    status = REJECTIONS[reason]
    log.info("connect rejected", extra={"status": status, "reason": reason})
    return {"statusCode": status, "body": _json({"error": reason})}


def _connect_rejection(result: BackendResult, fail_open: bool) -> str | None:
    """The rejection reason for a validate answer, or None to accept the connection."""
    if result.outcome in (Outcome.RESPONDED, Outcome.TOO_LARGE):
        if 200 <= result.status < 300:
            return None
        if result.status == 401:
            return "backend_unauthorized"
        if result.status == 403:
            return "backend_forbidden"
        if 400 <= result.status < 500:
            return "backend_rejected"
        if result.status < 500:  # 1xx/3xx: the backend answered, but not per the contract
            return "backend_unavailable"
    # 5xx, timeout, unreachable: the only cases BACKEND_FAIL_OPEN may let through
    return None if fail_open else "backend_unavailable"


def _message_failure(result: BackendResult) -> ErrorCode:
    if result.outcome is Outcome.TIMEOUT:
        return "backend_timeout"
    if result.outcome is Outcome.UNREACHABLE:
        return "backend_unavailable"
    if result.outcome is Outcome.TOO_LARGE:
        return "backend_invalid_reply"
    return "backend_error"


# ---------------------------------------------------------------------------- time


def _seconds_left(context: Any) -> float | None:
    """The time the Lambda invocation has left, or None outside Lambda (tests, tools)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    millis = remaining() if callable(remaining) else None
    if isinstance(millis, bool) or not isinstance(millis, int | float):
        return None
    return float(millis) / 1000 if math.isfinite(millis) else None


def _budget(deadline: float | None, reserve: float) -> float | None:
    """Seconds a backend call may take so that ``reserve`` seconds remain before
    ``deadline`` (``time.monotonic()``); None when there is no deadline."""
    if deadline is None:
        return None
    return deadline - time.monotonic() - reserve


# ---------------------------------------------------------------------------- $connect


def connect(
    event: Mapping[str, Any],
    info: RequestInfo,
    settings: HandlerSettings,
    http: urllib3.PoolManager,
    store: Callable[[Connection], None],
    now: Callable[[], float] = time.time,
    deadline: float | None = None,
) -> dict[str, Any]:
    """``deadline`` (``time.monotonic()``): when the Lambda invocation ends, if known."""
    if not info.user_id or not info.connection_id:
        return _reject("not_authorized")
    if not info.session_id:
        return _reject("session_required")
    found = find_tokens(event)
    if not found:
        return _reject("not_authorized")

    result = backend_client.validate_session(
        http,
        settings,
        info.session_id,
        found[0].token,
        timeout_seconds=_budget(deadline, REGISTRY_BUDGET_SECONDS + ANSWER_MARGIN_SECONDS),
    )
    # Failing open is safe only for a session the verified token names itself. A session
    # named by the query string is the client's claim: only the backend can confirm that it
    # belongs to this user, so without an answer it is refused.
    fail_open = settings.backend_fail_open and info.session_source == "token"
    reason = _connect_rejection(result, fail_open)
    log.info(
        "session validated",
        extra={
            "outcome": result.outcome.value,
            "backendStatus": result.status,
            "latencyMs": result.elapsed_ms,
        },
    )
    if reason is not None:
        if settings.backend_fail_open and _connect_rejection(result, True) is None:
            log.warning(
                "backend unreachable, connection refused: the session was not named by the "
                "token (BACKEND_FAIL_OPEN applies to token sessions only)",
                extra={"sessionSource": info.session_source},
            )
        return _reject(reason)
    if not result.ok:
        log.warning("backend unreachable, connection accepted (BACKEND_FAIL_OPEN)")

    record = new_connection(
        info.connection_id,
        info.session_id,
        info.user_id,
        ttl_seconds=settings.connection_ttl_seconds,
        connected_at_ms=info.connected_at,
        now=now(),
    )
    try:
        store(record)
    except RegistryError as exc:
        log.error("connection not stored", extra={"code": exc.code, "transient": exc.transient})
        return _reject("registry_unavailable" if exc.transient else "registry_error")

    log.info("connected", extra={"userId": info.user_id, "sessionId": info.session_id})
    response: dict[str, Any] = {"statusCode": 200, "body": ""}
    if bearer_offered(event):
        # A browser that sent its token as a subprotocol drops the socket unless it is echoed.
        response["headers"] = {"Sec-WebSocket-Protocol": "bearer"}
    return response


# ---------------------------------------------------------------------------- $disconnect


def disconnect(
    info: RequestInfo,
    settings: HandlerSettings,
    http: urllib3.PoolManager,
    remove: Callable[[str], None],
    deadline: float | None = None,
) -> dict[str, Any]:
    """Always 200: the connection is already closed; the TTL catches what is missed here."""
    if info.connection_id:
        try:
            remove(info.connection_id)
        except RegistryError as exc:
            log.error("record not deleted", extra={"code": exc.code})
    notice = {
        "connectionId": info.connection_id,
        "sessionId": info.session_id,
        "userId": info.user_id,
        "disconnectStatusCode": info.disconnect_status_code,
        "disconnectReason": info.disconnect_reason,
    }
    result = backend_client.notify_disconnect(
        http, settings, notice, timeout_seconds=_budget(deadline, ANSWER_MARGIN_SECONDS)
    )
    log.info(
        "disconnected",
        extra={
            "outcome": result.outcome.value,
            "backendStatus": result.status,
            "latencyMs": result.elapsed_ms,
            "disconnectStatusCode": info.disconnect_status_code,
        },
    )
    return {"statusCode": 200, "body": ""}


# ---------------------------------------------------------------------------- messages


def _is_text(value: str) -> bool:
    """False for a string holding a lone surrogate, which the JSON escape ``\\ud800``
    produces: it has no UTF-8 form, so it can be neither forwarded nor stored."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _interchangeable(value: Any) -> bool:
    """Nesting within MAX_JSON_DEPTH and every string (keys too) valid text, so the value
    re-encodes as the strict UTF-8 JSON the backend receives."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return False
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return False
            if isinstance(item, dict) and not all(_is_text(key) for key in item):
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number beyond the double range (``1e999``) reads as inf, which has no JSON
    form (``json.dumps`` would write ``Infinity``): refuse it like ``Infinity`` itself."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:32]} is out of range")
    return value


class _Refused(Exception):
    """Internal signal carrying an error code; never leaves this module."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code)
        self.code: ErrorCode = code


def _decode_body(event: Mapping[str, Any]) -> str:
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise _Refused("invalid_json")
    if event.get("isBase64Encoded") is True:  # binary frames arrive base64-encoded
        if len(body) > (MAX_MESSAGE_BYTES + 2) // 3 * 4 + 4:
            raise _Refused("message_too_large")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("invalid_json") from None
    else:
        if len(body) > MAX_MESSAGE_BYTES:
            raise _Refused("message_too_large")
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: not text any client could send
            raise _Refused("invalid_json") from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _Refused("message_too_large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("invalid_json") from None


def parse_message(event: Mapping[str, Any]) -> dict[str, Any] | ErrorCode:
    """The client's JSON object, or the error code that explains why there is none."""
    try:
        text = _decode_body(event)
    except _Refused as refused:
        return refused.code
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # also integers beyond Python's 4300 digits
        return "invalid_json"
    if not isinstance(value, dict):
        return "not_an_object"
    if not _interchangeable(value):
        return "invalid_json"
    return value


def message(
    event: Mapping[str, Any],
    info: RequestInfo,
    settings: HandlerSettings,
    http: urllib3.PoolManager,
    now: Callable[[], float] = time.time,
    deadline: float | None = None,
) -> dict[str, Any]:
    parsed = parse_message(event)
    if isinstance(parsed, str):
        log.info("message refused", extra={"error": parsed})
        return error_reply(parsed, info.request_id)
    if parsed.get("type") == "ping":
        return {"statusCode": 200, "body": _json({"type": "pong", "timestamp": int(now() * 1000)})}

    # Identity comes from the authorizer context and overrides whatever the client sent.
    forwarded = {
        **parsed,
        "connectionId": info.connection_id,
        "sessionId": info.session_id,
        "userId": info.user_id,
    }
    result = backend_client.forward_message(
        http,
        settings,
        info.connection_id,
        forwarded,
        timeout_seconds=_budget(deadline, ANSWER_MARGIN_SECONDS),
    )
    log.info(
        "message forwarded",
        extra={
            "outcome": result.outcome.value,
            "backendStatus": result.status,
            "latencyMs": result.elapsed_ms,
        },
    )
    if not result.ok:
        return error_reply(_message_failure(result), info.request_id)
    try:
        reply = result.body.decode("utf-8")
        json.loads(reply, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return error_reply("backend_invalid_reply", info.request_id)
    return {"statusCode": 200, "body": reply}


# ---------------------------------------------------------------------------- entry point

# Read at cold start: a misconfigured function fails to start, with the reason in its log.
SETTINGS = HandlerSettings.from_env()
logs.configure(SETTINGS.log_level)


def _store(connection: Connection) -> None:
    put_connection(SETTINGS.connections_table, connection)


def _remove(connection_id: str) -> None:
    delete_connection(SETTINGS.connections_table, connection_id)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point for ``$connect``, ``$disconnect``, ``$default`` and custom routes."""
    left = _seconds_left(context)
    deadline = None if left is None else time.monotonic() + left
    event = event if isinstance(event, Mapping) else {}
    info = RequestInfo.from_event(event)
    with logs.bind(
        connectionId=info.connection_id, requestId=info.request_id, routeKey=info.route_key
    ):
        try:
            if info.kind == "connect":
                return connect(
                    event, info, SETTINGS, backend_client.pool(), _store, deadline=deadline
                )
            if info.kind == "disconnect":
                return disconnect(info, SETTINGS, backend_client.pool(), _remove, deadline=deadline)
            return message(event, info, SETTINGS, backend_client.pool(), deadline=deadline)
        except Exception:
            log.exception("handler failed")
            if info.kind == "connect":
                return _reject("internal_error")
            if info.kind == "disconnect":
                return {"statusCode": 200, "body": ""}
            return error_reply("internal_error", info.request_id)
