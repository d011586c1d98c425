"""The events API Gateway sends to Lambda for a WebSocket API, and its identifiers."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConnectionInfo",
    "HandshakeRequest",
    "authorizer_event",
    "connect_event",
    "disconnect_event",
    "message_event",
    "new_connection_id",
    "new_request_id",
    "now_ms",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_ms() -> int:
    return int(time.time() * 1000)


def new_connection_id() -> str:
    """An opaque id shaped like API Gateway's (`R0oXAdfD0kwCH6w=`): 16 base64 characters,
    which may include `+` and `/`, so callers must URL-encode it."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def new_request_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def request_time(epoch_ms: int) -> str:
    """API Gateway's `requestTime`, e.g. `09/Feb/2019:11:10:38 +0000`."""
    t = time.gmtime(epoch_ms / 1000)
    month = _MONTHS[t.tm_mon - 1]
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{month}/{t.tm_year}:{clock} +0000"


@dataclass(frozen=True)
class HandshakeRequest:
    """What the client sent in its upgrade request."""

    path: str
    raw_headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [v for k, v in self.raw_headers if k.lower() == wanted]
        return values[-1] if values else None

    def headers(self) -> dict[str, str]:
        """One value per header, the last one when it repeats (`multiValueHeaders` has all)."""
        return {name: values[-1] for name, values in self.multi_value_headers().items()}

    def multi_value_headers(self) -> dict[str, list[str]]:
        return _multi(self.raw_headers)

    def query_parameter(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def query_parameters(self) -> dict[str, str]:
        return {k: v[-1] for k, v in _multi(self.query).items()}

    def multi_value_query_parameters(self) -> dict[str, list[str]]:
        return _multi(self.query)


def _multi(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key, value in pairs:
        result.setdefault(key, []).append(value)
    return result


@dataclass
class ConnectionInfo:
    """What API Gateway knows of a connection; shared by all its events."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str
    connected_at_ms: int
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None

    def request_context(
        self, route_key: str, event_type: str, request_id: str, epoch_ms: int
    ) -> dict[str, Any]:
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": request_time(epoch_ms),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": self.connected_at_ms,
            "requestTimeEpoch": epoch_ms,
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": self.connection_id,
            "apiId": self.api_id,
        }
        if self.authorizer is not None:
            context["authorizer"] = dict(self.authorizer)
        return context

    def with_stage_variables(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.stage_variables:
            event["stageVariables"] = dict(self.stage_variables)
        return event


def _request_parts(request: HandshakeRequest) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "headers": request.headers(),
        "multiValueHeaders": request.multi_value_headers(),
    }
    if request.query:
        parts["queryStringParameters"] = request.query_parameters()
        parts["multiValueQueryStringParameters"] = request.multi_value_query_parameters()
    return parts


def authorizer_event(
    info: ConnectionInfo, request: HandshakeRequest, method_arn: str, request_id: str, epoch_ms: int
) -> dict[str, Any]:
    """The event a REQUEST authorizer receives for `$connect`."""
    event: dict[str, Any] = {"type": "REQUEST", "methodArn": method_arn}
    event.update(_request_parts(request))
    event["requestContext"] = info.request_context("$connect", "CONNECT", request_id, epoch_ms)
    return info.with_stage_variables(event)


def connect_event(
    info: ConnectionInfo, request: HandshakeRequest, request_id: str, epoch_ms: int
) -> dict[str, Any]:
    event = _request_parts(request)
    event["requestContext"] = info.request_context("$connect", "CONNECT", request_id, epoch_ms)
    event["isBase64Encoded"] = False
    return info.with_stage_variables(event)


def message_event(
    info: ConnectionInfo,
    route_key: str,
    body: str | bytes,
    request_id: str,
    message_id: str,
    epoch_ms: int,
) -> dict[str, Any]:
    context = info.request_context(route_key, "MESSAGE", request_id, epoch_ms)
    context["messageId"] = message_id
    binary = isinstance(body, bytes)
    event: dict[str, Any] = {
        "requestContext": context,
        "body": base64.b64encode(body).decode("ascii") if isinstance(body, bytes) else body,
        "isBase64Encoded": binary,
    }
    return info.with_stage_variables(event)


def disconnect_event(
    info: ConnectionInfo, status_code: int, reason: str, request_id: str, epoch_ms: int
) -> dict[str, Any]:
    context = info.request_context("$disconnect", "DISCONNECT", request_id, epoch_ms)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    event: dict[str, Any] = {
        "headers": {"Host": info.domain_name, "X-Forwarded-For": info.source_ip},
        "multiValueHeaders": {"Host": [info.domain_name], "X-Forwarded-For": [info.source_ip]},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    return info.with_stage_variables(event)
