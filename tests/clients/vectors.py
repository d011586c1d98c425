"""Reading sdk/vectors/protocol.json: the session protocol's examples, shared with the
browser client's tests (tests/clients/js/vectors.mjs reads the same file the same way)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_FILE = Path(__file__).resolve().parents[2] / "sdk" / "vectors" / "protocol.json"


def expand(value: Any) -> Any:
    """``{"$repeat": [text, n]}`` stands for ``text * n`` (keeps 128 KB strings out of the file)."""
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            text, count = value["$repeat"]
            return text * count
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


def load() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return document


def cases() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load()["cases"]
    return found
