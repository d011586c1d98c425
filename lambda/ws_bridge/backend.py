"""Calls to the HTTPS backend over one urllib3 pool per container.

Each call has a total deadline (``BACKEND_TIMEOUT_SECONDS``, or
``DISCONNECT_TIMEOUT_SECONDS`` for the disconnect notice), follows no redirect and is never
retried (a POST is not idempotent; a GET retry would double the wait). Nothing here raises a
urllib3 error: every call returns a :class:`BackendResult` that the handler maps to a status.
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from ws_bridge import logs
from ws_bridge.settings import HandlerSettings

__all__ = [
    "BackendResult",
    "Outcome",
    "forward_message",
    "notify_disconnect",
    "pool",
    "validate_session",
]

# The largest message API Gateway delivers to a client; a longer reply cannot be sent.
MAX_REPLY_BYTES = 128 * 1024
_CHUNK = 16 * 1024

log = logs.get_logger("backend")


class Outcome(enum.Enum):
    RESPONDED = "responded"  # an HTTP answer arrived (any status)
    TIMEOUT = "timeout"  # no complete answer within the deadline
    UNREACHABLE = "unreachable"  # no connection, or it broke before an answer
    TOO_LARGE = "too_large"  # the answer's body exceeded the limit


@dataclass(frozen=True, slots=True)
class BackendResult:
    outcome: Outcome
    status: int = 0
    body: bytes = b""
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.RESPONDED and 200 <= self.status < 300


@functools.cache
def pool() -> urllib3.PoolManager:
    """The container's connection pool, kept warm across invocations."""
    return urllib3.PoolManager(num_pools=4, maxsize=4, retries=False)


def _request(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    timeout_seconds: float,
    headers: Mapping[str, str],
    body: bytes | None = None,
    max_body: int = MAX_REPLY_BYTES,
) -> BackendResult:
    started = time.monotonic()
    deadline = started + timeout_seconds

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    response: Any = None
    complete = False
    try:
        response = http.request(
            method,
            url,
            body=body,
            headers=dict(headers),
            timeout=urllib3.Timeout(total=timeout_seconds),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        chunks: list[bytes] = []
        size = 0
        while True:
            # The socket timeout bounds each read; this bounds the whole answer.
            if time.monotonic() > deadline:
                return BackendResult(Outcome.TIMEOUT, response.status, b"", elapsed())
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_body:
                return BackendResult(Outcome.TOO_LARGE, response.status, b"", elapsed())
            chunks.append(chunk)
        complete = True
        return BackendResult(Outcome.RESPONDED, response.status, b"".join(chunks), elapsed())
    except NewConnectionError:  # before TimeoutError: it subclasses ConnectTimeoutError
        return BackendResult(Outcome.UNREACHABLE, elapsed_ms=elapsed())
    except TimeoutError:
        return BackendResult(Outcome.TIMEOUT, elapsed_ms=elapsed())
    except (HTTPError, OSError):
        return BackendResult(Outcome.UNREACHABLE, elapsed_ms=elapsed())
    finally:
        if response is not None:
            if not complete:
                # Unread bytes would poison the pooled connection: close it instead.
                response.close()
            response.release_conn()


def validate_session(
    http: urllib3.PoolManager, settings: HandlerSettings, session_id: str, token: str
) -> BackendResult:
    """``GET {BACKEND_URL}{BACKEND_VALIDATE_PATH}`` with ``Authorization: Bearer <jwt>``."""
    path = settings.backend_validate_path.replace("{sessionId}", quote(session_id, safe=""))
    return _request(
        http,
        "GET",
        settings.backend_url + path,
        timeout_seconds=settings.backend_timeout_seconds,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def forward_message(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
    connection_id: str,
    message: Mapping[str, Any],
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_MESSAGE_PATH}`` with the message as JSON."""
    return _request(
        http,
        "POST",
        settings.backend_url + settings.backend_message_path,
        timeout_seconds=settings.backend_timeout_seconds,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Connection-Id": connection_id,
        },
        body=json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
    )


def notify_disconnect(
    http: urllib3.PoolManager, settings: HandlerSettings, notice: Mapping[str, Any]
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_DISCONNECT_PATH}``, best effort with a short deadline."""
    return _request(
        http,
        "POST",
        settings.backend_url + settings.backend_disconnect_path,
        timeout_seconds=settings.disconnect_timeout_seconds,
        headers={"Content-Type": "application/json"},
        body=json.dumps(notice, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        max_body=16 * 1024,
    )
