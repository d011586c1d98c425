"""The connection handler (handler string ``ws_bridge.handler.handler``).

``$connect`` validates the session with the backend and only then stores the connection;
``$disconnect`` deletes it and tells the backend; every other route (``$default`` and custom
routes) answers ``ping`` itself and forwards the rest to the backend, whose JSON reply goes
back to the client. Every status and error code is decided here, from the tables of
``ws_bridge.outcomes``; nothing raises out of :func:`handler`.

Time: a backend call never outlasts its configured timeout nor the time the Lambda has left
(``context.get_remaining_time_in_millis()``) minus what must still happen after it (for
``$connect``, DynamoDB's worst case, ``aws.REGISTRY_BUDGET_SECONDS``), and no DynamoDB
attempt starts that could not end ``ANSWER_MARGIN_SECONDS`` before the invocation does (the
registry's deadline), so the handler answers with a clean error before Lambda ends it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from ws_bridge import backend_client, json_codec, logs, metrics
from ws_bridge.aws import REGISTRY_BUDGET_SECONDS
from ws_bridge.backend_client import BackendResult, Outcome
from ws_bridge.client_message import message_id, parse_message
from ws_bridge.closing import close_connection, management_endpoint
from ws_bridge.connections_table import (
    Connection,
    RegistryError,
    delete_connection,
    forget_subscriptions,
    new_connection,
    put_connection,
)
from ws_bridge.events import RequestInfo, epoch_field
from ws_bridge.json_codec import MAX_JSON_DEPTH
from ws_bridge.outcomes import (
    ERRORS,
    REJECTIONS,
    ErrorCode,
    connect_rejection,
    error_reply,
    message_failure,
    signature_refused,
)
from ws_bridge.settings import MAX_CONNECTION_SECONDS, HandlerSettings
from ws_bridge.token_sources import bearer_protocol, find_tokens
from ws_bridge.tracing import message_trace, traced_reply
from ws_bridge_backend.traceparent import TRACE_FIELD

__all__ = [
    "ERRORS",
    "MAX_JSON_DEPTH",
    "REJECTIONS",
    "RequestInfo",
    "close_connection",
    "connect",
    "disconnect",
    "error_reply",
    "handler",
    "management_endpoint",
    "message",
    "parse_message",
]

# Kept free at the end of an invocation to log and answer after the last call.
ANSWER_MARGIN_SECONDS = 0.5

log = logs.get_logger("handler")


# ---------------------------------------------------------------------------- responses


_json = json_codec.encode


def _reject(reason: str) -> dict[str, Any]:
    status = REJECTIONS[reason]
    log.info("connect rejected", extra={"status": status, "reason": reason})
    metrics.count("ConnectionsRefused", reason=reason)
    return {"statusCode": status, "body": _json({"error": reason})}


def _check_signature_refusal(result: BackendResult, settings: HandlerSettings) -> None:
    """An ERROR line, naming the key settings to check, when the backend answered 401."""
    if signature_refused(result):
        log.error(
            "the backend refused the handler's request signature (401): it must verify with "
            "the key in the secret BACKEND_SIGNING_SECRET_ARN names (AWSCURRENT and "
            "AWSPREVIOUS, re-read at least every BACKEND_SIGNING_KEY_REFRESH_SECONDS)",
            extra={
                "secretArn": settings.backend_signing_secret_arn or "unset: requests unsigned",
                "keyRefreshSeconds": settings.backend_signing_key_refresh_seconds,
            },
        )


def _measure(result: BackendResult, settings: HandlerSettings) -> None:
    """BackendLatency for an answer; BackendErrors (Code: the outcome, or http_<status>);
    an ERROR line when the backend refused the handler's signature."""
    if result.outcome in (Outcome.RESPONDED, Outcome.TOO_LARGE, Outcome.TIMEOUT):
        metrics.milliseconds("BackendLatency", result.elapsed_ms)
    if result.ok:
        return
    _check_signature_refusal(result, settings)
    code = f"http_{result.status}" if result.outcome is Outcome.RESPONDED else result.outcome.value
    metrics.count("BackendErrors", code=code)


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

    identity = {
        "connectionId": info.connection_id,
        "sessionId": info.session_id,
        "userId": info.user_id,
        "sessionSource": info.session_source,
        "tokenExpiresAt": info.token_expires_at,
    }
    result = backend_client.validate_session(
        http,
        settings,
        identity,
        found[0].token,
        timeout_seconds=_budget(deadline, REGISTRY_BUDGET_SECONDS + ANSWER_MARGIN_SECONDS),
    )
    # Failing open is safe only for a session the verified token names itself. A session
    # named by the query string is the client's claim: only the backend can confirm that it
    # belongs to this user, so without an answer it is refused.
    _measure(result, settings)
    fail_open = settings.backend_fail_open and info.session_source == "token"
    reason = connect_rejection(result, fail_open)
    log.info(
        "session validated",
        extra={
            "outcome": result.outcome.value,
            "backendStatus": result.status,
            "latencyMs": result.elapsed_ms,
        },
    )
    if reason is not None:
        if settings.backend_fail_open and connect_rejection(result, True) is None:
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
        ttl_seconds=MAX_CONNECTION_SECONDS,
        connected_at_ms=info.connected_at,
        token_expires_at=info.token_expires_at,
        now=now(),
    )
    try:
        store(record)
    except RegistryError as exc:
        log.error("connection not stored", extra={"code": exc.code, "transient": exc.transient})
        return _reject("registry_unavailable" if exc.transient else "registry_error")

    log.info("connected", extra={"userId": info.user_id, "sessionId": info.session_id})
    metrics.count("ConnectionsAccepted")
    response: dict[str, Any] = {"statusCode": 200, "body": ""}
    protocol = bearer_protocol(event)
    if protocol is not None:
        # A browser that sent its token as a subprotocol drops the socket unless the answer
        # names one it offered, byte for byte.
        response["headers"] = {"Sec-WebSocket-Protocol": protocol}
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
    _check_signature_refusal(result, settings)
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


def _pong(now: float) -> dict[str, Any]:
    # The only reply built on the hot path: formatted, not encoded (an int needs no escaping).
    return {"statusCode": 200, "body": f'{{"type":"pong","timestamp":{int(now * 1000)}}}'}


def _refusal(
    code: ErrorCode, info: RequestInfo, rid: str | None = None, trace: str | None = None
) -> dict[str, Any]:
    log.info("message refused", extra={"error": code})
    return error_reply(code, info.request_id, rid, trace)


# Set by the handler over what the client sent: the identity from the authorizer context,
# and the message's trace.
_OVERRIDDEN = ("connectionId", "sessionId", "userId", TRACE_FIELD)


def _forwarded_body(parsed: Mapping[str, Any], info: RequestInfo, trace: str) -> bytes | None:
    """The backend's request body: the client's object with the identity from the
    authorizer context and the message's trace, which override what the client sent, as
    strict JSON in UTF-8. None when the client's object holds a lone surrogate, also in a
    value overridden."""
    overridden = [parsed[key] for key in _OVERRIDDEN if key in parsed]
    if overridden and _encoded(overridden) is None:
        return None
    return _encoded(
        {
            **parsed,
            "connectionId": info.connection_id,
            "sessionId": info.session_id,
            "userId": info.user_id,
            TRACE_FIELD: trace,
        }
    )


def _encoded(value: Mapping[str, Any] | list[Any]) -> bytes | None:
    """``value`` as strict JSON in UTF-8; None when one of its strings holds a lone
    surrogate, escaped in the client's text (``"\\ud800"``): such a message is not JSON
    every peer reads alike, and has no UTF-8 form."""
    try:
        return json_codec.encode_json(value)
    except ValueError:
        return None


def message(
    event: Mapping[str, Any],
    info: RequestInfo,
    settings: HandlerSettings,
    http: urllib3.PoolManager,
    now: Callable[[], float] = time.time,
    deadline: float | None = None,
    close: Callable[[RequestInfo, str], None] = close_connection,
) -> dict[str, Any]:
    """A client message: its trace (the client's ``traceparent`` or a new one) is on every
    line logged for it, in the backend's request and in the reply."""
    parsed = parse_message(event)
    trace = message_trace(parsed)
    with logs.bind(traceparent=trace):
        try:
            return _message(parsed, trace, info, settings, http, now, deadline, close)
        except Exception:
            # handler()'s safety net, here so that the line and the reply carry the trace.
            log.exception("handler failed")
            return error_reply("internal_error", info.request_id, message_id(parsed), trace)


def _message(
    parsed: dict[str, Any] | ErrorCode,
    trace: str,
    info: RequestInfo,
    settings: HandlerSettings,
    http: urllib3.PoolManager,
    now: Callable[[], float],
    deadline: float | None,
    close: Callable[[RequestInfo, str], None],
) -> dict[str, Any]:
    expires_at = info.token_expires_at
    # Expired from exp on, exactly as the authorizer decides (jwt_verifier.is_expired).
    if settings.token_expiry_enforced and expires_at is not None and now() >= expires_at:
        # The connection must not outlive its token: say why, then close it, so the client
        # reconnects with a fresh token (and the authorizer checks that one). The reply
        # names the refused request, so that the client resends that one, and only it.
        log.info("token expired, connection closed", extra={"expiredAt": expires_at})
        metrics.count("TokensExpired")
        expired = error_reply("token_expired", info.request_id, message_id(parsed), trace)
        close(info, expired["body"])
        return expired
    if isinstance(parsed, str):
        return _refusal(parsed, info, None, trace)
    rid = message_id(parsed)
    if parsed.get("type") == "ping":
        # Encoded for the one check parse_message leaves to the encode: a lone surrogate.
        if _encoded(parsed) is None:
            return _refusal("invalid_json", info, None, trace)
        return _pong(now())
    body = _forwarded_body(parsed, info, trace)
    if body is None:
        return _refusal("invalid_json", info, rid, trace)
    result = backend_client.forward_body(
        http,
        settings,
        info.connection_id,
        body,
        timeout_seconds=_budget(deadline, ANSWER_MARGIN_SECONDS),
        traceparent=trace,
    )
    log.info(
        "message forwarded",
        extra={
            "outcome": result.outcome.value,
            "backendStatus": result.status,
            "latencyMs": result.elapsed_ms,
        },
    )
    _measure(result, settings)
    if not result.ok:
        return error_reply(message_failure(result), info.request_id, rid, trace)
    metrics.count("MessagesForwarded")
    try:
        reply = result.body.decode("utf-8")
    except UnicodeDecodeError:
        return error_reply("backend_invalid_reply", info.request_id, rid, trace)
    if not json_codec.is_json(reply):
        return error_reply("backend_invalid_reply", info.request_id, rid, trace)
    return {"statusCode": 200, "body": traced_reply(reply, len(result.body), trace)}


def _message_id_of(event: Mapping[str, Any]) -> str | None:
    """The client's request id, for an error after a failure of unknown place."""
    try:
        return message_id(parse_message(event))
    except Exception:  # noqa: BLE001 - the error reply goes out without an id
        return None


# ---------------------------------------------------------------------------- entry point

# Read at cold start: a misconfigured function fails to start, with the reason in its log.
SETTINGS = HandlerSettings.from_env()
logs.configure(SETTINGS.log_level)


def _store(connection: Connection, deadline: float | None = None) -> None:
    put_connection(SETTINGS.connections_table, connection, deadline=deadline)


def _remove(connection_id: str, deadline: float | None = None) -> None:
    delete_connection(SETTINGS.connections_table, connection_id, deadline=deadline)
    if SETTINGS.subscriptions_table:
        forget_subscriptions(SETTINGS.subscriptions_table, connection_id)


# The keepalive pings clients send, character for character: the browser client's
# JSON.stringify({type: "ping"}) and Python's json.dumps (the local client sends the first).
# Each is strict JSON, an object whose type is "ping", so the general path would answer it
# with a pong too; any other body (a ping with more fields, other spacing) takes that path.
_PINGS = frozenset({'{"type":"ping"}', '{"type": "ping"}'})
_CONNECTION_ROUTES = ("$connect", "$disconnect")
# False until the first invocation has gone the general way: that one logs cold_start.
_warm = False


def _fast_ping(event: dict[str, Any]) -> dict[str, Any] | None:
    """The pong for a keepalive ping, or None for anything the general path must decide:
    another body or route, a base64 frame, an expired token (which closes the connection).
    A ping logs nothing and records no metric on either path, and nothing here can raise."""
    body = event.get("body")
    if type(body) is not str or body not in _PINGS or event.get("isBase64Encoded") is True:
        return None
    request = event.get("requestContext")
    if type(request) is not dict:
        return None
    route = request.get("routeKey")
    # An empty route key: the event type decides the kind, as in RequestInfo.kind.
    if type(route) is not str or not route or route in _CONNECTION_ROUTES:
        return None
    now = time.time()
    if SETTINGS.token_expiry_enforced:
        authorizer = request.get("authorizer")
        if type(authorizer) is not dict:
            return None
        expires_at = epoch_field(authorizer, "exp")
        if expires_at is not None and now >= expires_at:
            return None
    return _pong(now)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point for ``$connect``, ``$disconnect``, ``$default`` and custom routes."""
    if _warm and type(event) is dict:
        pong = _fast_ping(event)
        if pong is not None:
            return pong
    return _handle(event, context)


def _handle(event: Any, context: Any) -> dict[str, Any]:
    global _warm
    left = _seconds_left(context)
    deadline = None if left is None else time.monotonic() + left
    # DynamoDB's retries stop in time to log and answer.
    registry_deadline = None if deadline is None else deadline - ANSWER_MARGIN_SECONDS
    event = event if isinstance(event, Mapping) else {}
    info = RequestInfo.from_event(event)
    with (
        logs.invocation(
            context,
            connectionId=info.connection_id,
            requestId=info.request_id,
            routeKey=info.route_key,
        ),
        metrics.invocation(SETTINGS.metrics_namespace, SETTINGS.metrics_service),
    ):
        _warm = True  # logs.invocation has spent the container's cold_start
        kind = info.kind
        try:
            if kind == "connect":
                store = functools.partial(_store, deadline=registry_deadline)
                return connect(
                    event, info, SETTINGS, backend_client.pool(), store, deadline=deadline
                )
            if kind == "disconnect":
                remove = functools.partial(_remove, deadline=registry_deadline)
                return disconnect(info, SETTINGS, backend_client.pool(), remove, deadline=deadline)
            return message(event, info, SETTINGS, backend_client.pool(), deadline=deadline)
        except Exception:
            log.exception("handler failed")
            if kind == "connect":
                return _reject("internal_error")
            if kind == "disconnect":
                return {"statusCode": 200, "body": ""}
            return error_reply("internal_error", info.request_id, _message_id_of(event))
