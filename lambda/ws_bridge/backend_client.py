"""Calls to the HTTPS backend over one urllib3 pool per container.

Each call has a total deadline (``BACKEND_TIMEOUT_SECONDS``, or
``DISCONNECT_TIMEOUT_SECONDS`` for the disconnect notice; the handler may shorten it to the
time the Lambda has left), follows no redirect and is never retried (a POST is not
idempotent; a GET retry would double the wait). Nothing here raises a urllib3 error: every
call returns a :class:`BackendResult` that the handler maps to a status.

A socket timeout bounds each read, not their sum: a backend that sends its headers or its
body a few bytes at a time would hold a call far beyond its deadline. So each call runs
under a watchdog that shuts the call's socket down at the deadline, which wakes whatever
read is waiting; the call then reports ``TIMEOUT``. The pool's connection classes hand
their socket to the current call's watchdog when they start waiting for the answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from ws_bridge import logs
from ws_bridge.settings import MAX_MESSAGE_BYTES, HandlerSettings

__all__ = [
    "BackendResult",
    "Outcome",
    "encode_json",
    "forward_message",
    "notify_disconnect",
    "pool",
    "validate_session",
]

_CHUNK = 16 * 1024
_MAX_NOTICE_REPLY_BYTES = 16 * 1024

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


def encode_json(value: Any) -> bytes:
    """Strict JSON in UTF-8: ``ValueError`` for NaN/Infinity or a lone surrogate."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8"
    )


# ---------------------------------------------------------------------------- deadline


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # socket.socket's own shutdown, also for a TLS socket: it wakes a read blocked in another
    # thread without changing the TLS object under that read. OSError: already closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Shuts the socket of one call down when the call's time is up."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self._expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            _shut(self._sock)

    def stop(self) -> bool:
        """Disarm; True when the deadline had passed (the socket may be shut down)."""
        self._timer.cancel()
        with self._lock:
            self._sock = None
            return self._expired


_WATCHDOG: contextvars.ContextVar[_Watchdog | None] = contextvars.ContextVar(
    "ws_bridge_backend_watchdog", default=None
)


def _watch(sock: socket.socket | None) -> None:
    watchdog = _WATCHDOG.get()
    if watchdog is not None:
        watchdog.watch(sock)


class _HTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        _watch(self.sock)  # from here on the call waits: the headers, then the body
        return super().getresponse()


class _HTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        _watch(self.sock)
        return super().getresponse()


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


@functools.cache
def pool() -> urllib3.PoolManager:
    """The container's connection pool, kept warm across invocations."""
    manager = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False)
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}
    return manager


# ---------------------------------------------------------------------------- calls


def _read_body(response: Any, max_body: int) -> tuple[Outcome, bytes]:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(_CHUNK)
        if not chunk:
            return Outcome.RESPONDED, b"".join(chunks)
        size += len(chunk)
        if size > max_body:
            return Outcome.TOO_LARGE, b""
        chunks.append(chunk)


def _request(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    timeout_seconds: float,
    headers: Mapping[str, str],
    body: bytes | None = None,
    max_body: int = MAX_MESSAGE_BYTES,
) -> BackendResult:
    if timeout_seconds <= 0:  # no time left at all: do not start what cannot finish
        return BackendResult(Outcome.TIMEOUT)
    started = time.monotonic()
    watchdog = _Watchdog(timeout_seconds)
    context = _WATCHDOG.set(watchdog)
    watchdog.start()
    response: Any = None
    status = 0
    data = b""
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
        status = response.status
        outcome, data = _read_body(response, max_body)
    except NewConnectionError:  # before TimeoutError: it subclasses ConnectTimeoutError
        outcome = Outcome.UNREACHABLE
    except TimeoutError:
        outcome = Outcome.TIMEOUT
    except (HTTPError, OSError):
        outcome = Outcome.UNREACHABLE
    finally:
        expired = watchdog.stop()
        _WATCHDOG.reset(context)
    if expired:
        # Whatever happened once the socket was shut down (an error, or an end of stream
        # that looks like the end of the body), the answer did not arrive in time.
        outcome, data = Outcome.TIMEOUT, b""
    if response is not None:
        if outcome is not Outcome.RESPONDED or expired:
            # Unread bytes (or a shut-down socket) would poison the pooled connection.
            response.close()
        response.release_conn()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return BackendResult(outcome, status, data if outcome is Outcome.RESPONDED else b"", elapsed_ms)


def _timeout(given: float | None, configured: float) -> float:
    return configured if given is None else min(given, configured)


def validate_session(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
    session_id: str,
    token: str,
    *,
    timeout_seconds: float | None = None,
) -> BackendResult:
    """``GET {BACKEND_URL}{BACKEND_VALIDATE_PATH}`` with ``Authorization: Bearer <jwt>``.

    ``timeout_seconds`` (default ``BACKEND_TIMEOUT_SECONDS``) is the call's total deadline.
    """
    path = settings.backend_validate_path.replace("{sessionId}", quote(session_id, safe=""))
    return _request(
        http,
        "GET",
        settings.backend_url + path,
        timeout_seconds=_timeout(timeout_seconds, settings.backend_timeout_seconds),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def forward_message(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
    connection_id: str,
    message: Mapping[str, Any],
    *,
    timeout_seconds: float | None = None,
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_MESSAGE_PATH}`` with the message as strict JSON.

    ``ValueError`` when ``message`` is not strict JSON (the handler refuses such messages
    when it parses them, so this is never sent as the non-JSON ``Infinity`` or ``NaN``).
    """
    return _request(
        http,
        "POST",
        settings.backend_url + settings.backend_message_path,
        timeout_seconds=_timeout(timeout_seconds, settings.backend_timeout_seconds),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Connection-Id": connection_id,
        },
        body=encode_json(message),
    )


def notify_disconnect(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
    notice: Mapping[str, Any],
    *,
    timeout_seconds: float | None = None,
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_DISCONNECT_PATH}``, best effort with a short deadline
    (default ``DISCONNECT_TIMEOUT_SECONDS``)."""
    return _request(
        http,
        "POST",
        settings.backend_url + settings.backend_disconnect_path,
        timeout_seconds=_timeout(timeout_seconds, settings.disconnect_timeout_seconds),
        headers={"Content-Type": "application/json"},
        body=encode_json(notice),
        max_body=_MAX_NOTICE_REPLY_BYTES,
    )
