"""Finding the JWT a ``$connect`` request carries: the ``token`` query parameter,
``Authorization: Bearer …`` or ``Sec-WebSocket-Protocol: bearer, <jwt>``.

Plain event parsing, no PyJWT: the connection handler imports this on every cold start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, NamedTuple

__all__ = [
    "FoundToken",
    "TokenSource",
    "bearer_offered",
    "bearer_protocol",
    "find_tokens",
    "query_values",
]

type TokenSource = Literal["query", "authorization", "protocol"]


class FoundToken(NamedTuple):  # not a dataclass: cheaper to build at each cold start
    source: TokenSource
    token: str


def _header_values(event: Mapping[str, Any], name: str) -> list[str]:
    """All values of one header, matched case-insensitively, multi-value form preferred."""
    wanted = name.lower()
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        values: list[str] = []
        for key, items in multi.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(items, list):
                values.extend(item for item in items if isinstance(item, str))
        if values:
            return values
    single = event.get("headers")
    if isinstance(single, Mapping):
        return [
            value
            for key, value in single.items()
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str)
        ]
    return []


def query_values(event: Mapping[str, Any], name: str) -> list[str]:
    """All values of one query-string parameter, multi-value form preferred."""
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, Mapping):
        items = multi.get(name)
        if isinstance(items, list):
            values = [item for item in items if isinstance(item, str)]
            if values:
                return values
    single = event.get("queryStringParameters")
    if isinstance(single, Mapping):
        value = single.get(name)
        if isinstance(value, str):
            return [value]
    return []


def _offered_protocols(event: Mapping[str, Any]) -> list[str]:
    return [
        item.strip()
        for value in _header_values(event, "Sec-WebSocket-Protocol")
        for item in value.split(",")
        if item.strip()
    ]


def bearer_protocol(event: Mapping[str, Any]) -> str | None:
    """The ``bearer`` subprotocol exactly as the client spelled it (``Bearer``, ``bearer``…),
    or None. The handler echoes this: a browser drops a socket whose answered subprotocol is
    not byte for byte one it offered."""
    return next((item for item in _offered_protocols(event) if item.lower() == "bearer"), None)


def bearer_offered(event: Mapping[str, Any]) -> bool:
    """Whether the client offered the ``bearer`` subprotocol (the handler must echo it)."""
    return bearer_protocol(event) is not None


def _protocol_tokens(event: Mapping[str, Any]) -> Iterator[str]:
    protocols = _offered_protocols(event)
    for index, item in enumerate(protocols[:-1]):
        if item.lower() == "bearer":
            yield protocols[index + 1]


def find_tokens(event: Mapping[str, Any]) -> list[FoundToken]:
    """Every token the request carries, in the order of precedence of docs/design.md:
    query ``token``, ``Authorization: Bearer …``, ``Sec-WebSocket-Protocol: bearer, <jwt>``."""
    found = [FoundToken("query", value.strip()) for value in query_values(event, "token")]
    for value in _header_values(event, "Authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            found.append(FoundToken("authorization", credentials.strip()))
    found.extend(FoundToken("protocol", token) for token in _protocol_tokens(event))
    return [item for item in found if item.token]
