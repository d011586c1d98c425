"""Calls to the HTTPS backend over one urllib3 pool per container.

Each call has a total deadline (``BACKEND_TIMEOUT_SECONDS``, or
``DISCONNECT_TIMEOUT_SECONDS`` for the disconnect notice; the handler may shorten it to the
time the Lambda has left), follows no redirect and is never retried (a POST is not
idempotent; a GET retry would double the wait). Nothing here raises a urllib3 error: every
call returns a :class:`BackendResult` that the handler maps to a status.

A socket timeout bounds each read, not their sum: a backend that sends its headers or its
body a few bytes at a time would hold a call far beyond its deadline. So each call runs
under a watchdog (one long-lived thread keeps every call's deadline in a heap) that shuts
the call's socket down at the deadline, which wakes whatever
read is waiting; the call then reports ``TIMEOUT``. The pool's connection classes hand
their socket to the current call's watchdog when they start waiting for the answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import heapq
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError
from urllib3.util.retry import Retry

from ws_bridge import logs
from ws_bridge.events import is_safe_id
from ws_bridge.json_codec import encode_json
from ws_bridge.settings import MAX_MESSAGE_BYTES, HandlerSettings
from ws_bridge.signing_key import SigningKey, SigningKeyUnavailableError
from ws_bridge_backend.signing import TRUSTED_HEADERS, sign_request
from ws_bridge_backend.traceparent import TRACE_HEADER

__all__ = [
    "BackendResult",
    "Outcome",
    "forward_body",
    "notify_disconnect",
    "pool",
    "signing_key",
    "validate_session",
]

_MAX_NOTICE_REPLY_BYTES = 16 * 1024

log = logs.get_logger("backend")


class Outcome(enum.Enum):
    RESPONDED = "responded"  # an HTTP answer arrived (any status)
    TIMEOUT = "timeout"  # no complete answer within the deadline
    UNREACHABLE = "unreachable"  # no connection, or it broke before an answer
    TOO_LARGE = "too_large"  # the answer's body exceeded the limit
    UNSENDABLE = "unsendable"  # a header or the path could not be sent as given: not sent
    NOT_SIGNED = "not_signed"  # the signing key could not be read: not sent unsigned


@dataclass(frozen=True, slots=True)
class BackendResult:
    outcome: Outcome
    status: int = 0
    body: bytes = b""
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.RESPONDED and 200 <= self.status < 300


# Visible ASCII, space and tab: what every HTTP stack sends unchanged in a header value.
# urllib3/http.client encode headers as latin-1 and refuse CR/LF; a token or id outside this
# set is refused here instead of raising out of the request.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def _sendable(headers: Mapping[str, str]) -> bool:
    # A match object is truthy: all() over the matches, with no generator frame per call.
    return all(map(_HEADER_VALUE.fullmatch, headers.values()))


# ---------------------------------------------------------------------------- deadline


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # socket.socket's own shutdown, also for a TLS socket: it wakes a read blocked in another
    # thread without changing the TLS object under that read. OSError: already closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """The deadline of one call: shuts the call's socket down when the time is up."""

    __slots__ = ("_lock", "_sock", "done", "expired")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self.done = False

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            _shut(self._sock)

    def stop(self) -> bool:
        """Disarm; True when the deadline had passed (the socket may be shut down)."""
        with self._lock:
            self.done = True
            self._sock = None
            return self.expired


_COMPACT_AT = 256


class _Deadlines:
    """One long-lived daemon thread for the deadlines of every call in the process.

    A heap of (deadline, sequence, watchdog). Starting a call pushes its entry and wakes the
    thread only when that deadline comes first; finishing a call only marks its watchdog
    done, and the thread drops done entries as they reach the top (and the heap is compacted
    whenever it has doubled). A thread per call (``threading.Timer``) cost more than the
    rest of the call's own work.
    """

    def __init__(self) -> None:
        self._wakeup = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._compact_at = _COMPACT_AT

    def start(self, seconds: float) -> _Watchdog:
        watchdog = _Watchdog()
        entry = (time.monotonic() + seconds, next(self._sequence), watchdog)
        with self._wakeup:
            heap = self._heap
            if len(heap) >= self._compact_at:  # amortised: at most once per doubling
                heap[:] = [item for item in heap if not item[2].done]
                heapq.heapify(heap)
                self._compact_at = max(_COMPACT_AT, 2 * len(heap))
            heapq.heappush(heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ws-bridge-deadlines", daemon=True
                )
                self._thread.start()
            elif heap[0] is entry:
                self._wakeup.notify()
        return watchdog

    def _run(self) -> None:
        heap = self._heap
        with self._wakeup:
            while True:
                now = time.monotonic()
                while heap and (heap[0][2].done or heap[0][0] <= now):
                    heapq.heappop(heap)[2].expire()  # a no-op for a finished call
                self._wakeup.wait(heap[0][0] - now if heap else None)


_DEADLINES = _Deadlines()


def _after_fork() -> None:
    # A forked child has the parent's heap but not its thread: start afresh.
    global _DEADLINES
    _DEADLINES = _Deadlines()


os.register_at_fork(after_in_child=_after_fork)


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
    manager = _PoolManager(num_pools=4, maxsize=4, retries=False)
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}
    return manager


class _PoolManager(urllib3.PoolManager):
    """Keeps the pool of each origin it has served: PoolManager.request parses the URL and
    normalises a pool key on every call, a good part of the client's own cost per call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origins: dict[str, HTTPConnectionPool] = {}

    def origin_pool(self, origin: str) -> HTTPConnectionPool:
        found = self.origins.get(origin)
        if found is None or found.pool is None:  # None: closed (urllib3 1.x closes on clear)
            found = self.origins[origin] = self.connection_from_url(origin)
        return found

    def clear(self) -> None:
        self.origins.clear()
        super().clear()


def _target(http: urllib3.PoolManager, url: str) -> tuple[HTTPConnectionPool, str]:
    """The pool for ``url``'s origin in ``http`` and the request target (path and query)."""
    split = urlsplit(url)
    origin = f"{split.scheme}://{split.netloc}"
    target = split.path + ("?" + split.query if split.query else "")
    if isinstance(http, _PoolManager):
        return http.origin_pool(origin), target
    return http.connection_from_url(origin), target


@functools.cache
def signing_key(secret_id: str, refresh_seconds: float) -> SigningKey:
    """The container's signing key for ``BACKEND_SIGNING_SECRET_ARN``, re-read every
    ``BACKEND_SIGNING_KEY_REFRESH_SECONDS``."""
    return SigningKey(secret_id, refresh_seconds=refresh_seconds)


def _signed(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of ``headers`` a backend may trust: each one is signed."""
    return {name: value for name, value in headers.items() if name.lower() in TRUSTED_HEADERS}


# ---------------------------------------------------------------------------- calls


# What urlopen builds from retries=False on every call (Retry.from_int): built once. A Retry
# is never changed in place (increment returns a new one), so one object serves every call.
_NO_RETRIES = Retry(total=False, redirect=False)


def _read_body(response: Any, max_body: int) -> tuple[Outcome, bytes]:
    # One read of at most one byte more than allowed: it returns at the end of the body
    # (or when the watchdog shuts the socket down), and a longer body shows as too long.
    data = response.read(max_body + 1)
    if len(data) > max_body:
        return Outcome.TOO_LARGE, b""
    return Outcome.RESPONDED, data


def _with_signature(
    settings: HandlerSettings,
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
) -> Mapping[str, str] | None:
    """The headers with the request's signature added, or None when there is no key."""
    assert settings.backend_signing_secret_arn is not None
    try:
        key = signing_key(
            settings.backend_signing_secret_arn, settings.backend_signing_key_refresh_seconds
        ).get()
    except SigningKeyUnavailableError as exc:
        log.error("request not sent: no signing key", extra={"reason": str(exc)})
        return None
    signature = sign_request(key, method, urlsplit(url).path, body or b"", headers=_signed(headers))
    return {**headers, **signature}


def _request(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
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
    if not _sendable(headers):
        log.warning("request not sent: a header value is not printable ASCII")
        return BackendResult(Outcome.UNSENDABLE)
    if settings.backend_signing_secret_arn is not None:
        signed = _with_signature(settings, method, url, body, headers)
        if signed is None:
            return BackendResult(Outcome.NOT_SIGNED)
        headers = signed
    return _send(http, method, url, headers, body, timeout_seconds, max_body)


def _send(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout_seconds: float,
    max_body: int,
) -> BackendResult:
    """One attempt, under a watchdog that shuts the socket down at the deadline; never
    raises (every failure is an outcome), and leaves the pool with no half-read connection."""
    started = time.monotonic()
    watchdog = _DEADLINES.start(timeout_seconds)
    context = _WATCHDOG.set(watchdog)
    response: Any = None
    status = 0
    data = b""
    try:
        target, path = _target(http, url)
        response = target.urlopen(
            method,
            path,
            body=body,
            headers=dict(headers),
            timeout=urllib3.Timeout(total=timeout_seconds),
            retries=_NO_RETRIES,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            release_conn=False,
        )
        status = response.status
        outcome, data = _read_body(response, max_body)
    except NewConnectionError:  # before TimeoutError: it subclasses ConnectTimeoutError
        outcome = Outcome.UNREACHABLE
    except TimeoutError:
        outcome = Outcome.TIMEOUT
    except (HTTPError, OSError):
        outcome = Outcome.UNREACHABLE
    except (UnicodeError, ValueError):
        # Anything http.client refuses to put on the wire (a header or a path it cannot
        # encode): nothing was sent, and the caller gets an answer rather than an exception.
        outcome = Outcome.UNSENDABLE
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
    identity: Mapping[str, Any],
    token: str,
    *,
    timeout_seconds: float | None = None,
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_VALIDATE_PATH}`` (``{sessionId}`` substituted) with the
    JSON ``identity`` (``connectionId``, ``sessionId``, ``userId``, ``sessionSource``,
    ``tokenExpiresAt``), ``X-Connection-Id`` and ``Authorization: Bearer <jwt>``, signed.

    ``timeout_seconds`` (default ``BACKEND_TIMEOUT_SECONDS``) is the call's total deadline.
    """
    session_id = str(identity.get("sessionId", ""))
    if not is_safe_id(session_id):
        # "..", "/" and the like would change which path the request reaches.
        log.warning("request not sent: the session id is not a safe path segment")
        return BackendResult(Outcome.UNSENDABLE)
    segment = quote(session_id, safe="")
    path = settings.backend_validate_path.replace("{sessionId}", segment)
    return _request(
        http,
        settings,
        "POST",
        settings.backend_url + path,
        timeout_seconds=_timeout(timeout_seconds, settings.backend_timeout_seconds),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Connection-Id": str(identity.get("connectionId", "")),
        },
        body=encode_json(identity),
    )


def forward_body(
    http: urllib3.PoolManager,
    settings: HandlerSettings,
    connection_id: str,
    body: bytes,
    *,
    timeout_seconds: float | None = None,
    traceparent: str | None = None,
) -> BackendResult:
    """``POST {BACKEND_URL}{BACKEND_MESSAGE_PATH}`` with a message already encoded with
    ``json_codec.encode_json`` (strict JSON: never ``NaN`` or ``Infinity``).
    ``traceparent``: the message's W3C trace, sent (and signed) as the ``traceparent``
    header."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Connection-Id": connection_id,
    }
    if traceparent is not None:
        headers[TRACE_HEADER] = traceparent
    return _request(
        http,
        settings,
        "POST",
        settings.backend_url + settings.backend_message_path,
        timeout_seconds=_timeout(timeout_seconds, settings.backend_timeout_seconds),
        headers=headers,
        body=body,
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
        settings,
        "POST",
        settings.backend_url + settings.backend_disconnect_path,
        timeout_seconds=_timeout(timeout_seconds, settings.disconnect_timeout_seconds),
        headers={
            "Content-Type": "application/json",
            "X-Connection-Id": str(notice.get("connectionId", "")),
        },
        body=encode_json(notice),
        max_body=_MAX_NOTICE_REPLY_BYTES,
    )
