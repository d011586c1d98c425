"""Route selection: which route key a client message goes to."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

__all__ = ["RouteSelector"]

_BODY_PREFIX = "$request.body."
_LIFECYCLE = frozenset({"$connect", "$disconnect"})


class RouteSelector:
    """Evaluates a route selection expression such as `$request.body.action`.

    The value found at that path of a JSON object message selects the route whose key
    equals it exactly; a message that is not a JSON object, lacks the path, or names no
    route goes to `$default`; without a `$default` route there is no route (`None`).
    """

    def __init__(self, expression: str, route_keys: Collection[str]) -> None:
        text = expression.strip()
        if text.startswith("${") and text.endswith("}"):
            text = "$" + text[2:-1]
        if not text.startswith(_BODY_PREFIX) or len(text) == len(_BODY_PREFIX):
            raise ValueError(
                f"unsupported route selection expression {expression!r}; "
                "WebSocket APIs select on $request.body.<path>"
            )
        self.path = tuple(text[len(_BODY_PREFIX) :].split("."))
        self.keys = frozenset(route_keys)
        self.default = "$default" if "$default" in self.keys else None

    def select(self, message: str | bytes) -> str | None:
        if isinstance(message, bytes):
            return self.default
        try:
            document: Any = json.loads(message)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than json handles
            return self.default
        for part in self.path:
            if not isinstance(document, dict) or part not in document:
                return self.default
            document = document[part]
        if isinstance(document, dict | list) or document is None:
            return self.default
        key = document if isinstance(document, str) else json.dumps(document)
        if key in self.keys and key not in _LIFECYCLE:
            return key
        return self.default
