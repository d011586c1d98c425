"""What the reference backend answers: a reply, or a client error raised on the way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Reply", "RequestError", "json_reply", "parse_json"]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; ``abort`` drops the connection instead (fault mode ``down``)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    abort: bool = False


class RequestError(Exception):
    """A client error answered as ``{"type": "error", "error": code, "message": text}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode())


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise RequestError(400, "invalid_json", "the body must be JSON") from err
