"""The API Gateway WebSocket event model: the fields the handler reads, typed and defaulted.

Every field is read defensively (a missing or mistyped value becomes "" or None): the event
comes from API Gateway, but the handler must answer well even for one it did not expect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

__all__ = [
    "MAX_ID_LENGTH",
    "SAFE_ID",
    "RequestInfo",
    "claim_identifier",
    "epoch_field",
    "is_safe_id",
]

# User and session ids: what identity providers use (UUIDs, e-mail addresses, Auth0's
# "auth0|…", Cognito's "region:uuid") and nothing that means something in a URL path or a
# log: no "/", no "?", "#", "%", no whitespace, and never "." or ".." (a first character
# other than "." excludes both). The authorizer refuses other ids, and the backend client
# checks again before it puts a session id in a path.
MAX_ID_LENGTH = 128
SAFE_ID = re.compile(r"[A-Za-z0-9_@:+=|-][A-Za-z0-9_.@:+=|-]{0,127}")


def is_safe_id(value: str) -> bool:
    return SAFE_ID.fullmatch(value) is not None


def claim_identifier(value: object) -> str | None:
    """A token claim usable as a user or session id: a string (or an integer, as its
    decimal string) matching ``SAFE_ID``; None otherwise. The authorizer and the local
    development tools decide with this one rule."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and is_safe_id(value):
        return value
    return None


def _int(mapping: Mapping[str, Any], name: str) -> int | None:
    value = mapping.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def epoch_field(mapping: Mapping[str, Any], name: str) -> int | None:
    """An epoch-seconds value the authorizer put in its context: API Gateway may deliver it
    as a number or as a string of digits."""
    value = mapping.get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e12:
        return int(value)
    return None


class RequestInfo(NamedTuple):
    """The fields of an API Gateway WebSocket event that the handler uses (immutable; a
    named tuple because it is built on every invocation, at a fraction of a frozen
    dataclass's cost)."""

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
    token_expires_at: int | None = None  # the token's exp (epoch seconds), from the authorizer
    api_id: str = ""
    stage: str = ""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RequestInfo:
        # Runs on every invocation: the lookups are inlined (no helper call per field).
        context = event.get("requestContext")
        if not isinstance(context, Mapping):
            context = {}
        authorizer = context.get("authorizer")
        if not isinstance(authorizer, Mapping):
            authorizer = {}
        get, auth = context.get, authorizer.get
        route_key = get("routeKey")
        event_type = get("eventType")
        connection_id = get("connectionId")
        request_id = get("requestId")
        user_id = auth("userId")
        session_id = auth("sessionId")
        session_source = auth("sessionSource")
        reason = get("disconnectReason")
        api_id = get("apiId")
        stage = get("stage")
        return cls(
            route_key if isinstance(route_key, str) else "",
            event_type if isinstance(event_type, str) else "",
            connection_id if isinstance(connection_id, str) else "",
            request_id if isinstance(request_id, str) else "",
            _int(context, "connectedAt"),
            user_id if isinstance(user_id, str) else "",
            session_id if isinstance(session_id, str) else "",
            session_source if isinstance(session_source, str) else "",
            _int(context, "disconnectStatusCode"),
            reason if isinstance(reason, str) else "",
            epoch_field(authorizer, "exp"),
            api_id if isinstance(api_id, str) else "",
            stage if isinstance(stage, str) else "",
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
