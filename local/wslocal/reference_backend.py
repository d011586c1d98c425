"""Reference backend for the local stack: the HTTPS backend of the backend contract.

Run it with::

    python -m wslocal.reference_backend --port 8081 --table ws-connections \\
        --callback-url http://127.0.0.1:8080/local --jwt-secret-arn arn:aws:secretsmanager:... \\
        --session lab-1:alice

It prints ``backend ready http://127.0.0.1:<port>`` once it accepts requests, binds 127.0.0.1
only, and stops cleanly on SIGTERM or SIGINT. AWS endpoints (Secrets Manager, DynamoDB) come
from boto3's own ``AWS_ENDPOINT_URL`` handling; ``@connections`` calls go to ``--callback-url``.

Contract endpoints (see docs/design.md, "Backend contract"):

``GET /api/labs/session/{sessionId}/validate``
    Verifies the bearer JWT itself, with the authorizer's own code and settings
    (``wslocal.devtoken.TokenCheck``: ``ws_bridge.jwt_verifier.TokenVerifier`` and
    ``ws_bridge.authorizer.authorize``). 401: no token or an invalid one. 503: the key cannot
    be read. 404: unknown session. 403: the token's user is not a member of the session, or
    the token names another session in its session claim. 200: ``{"valid": true, ...}``.

``POST /api/ws/message``
    ``ping`` → ``pong``; ``command`` → ``command_result``; ``resize`` → ``resize_ack``; anything
    else → 400 ``unknown_type``. ``connectionId``, ``sessionId`` and ``userId`` are taken from the
    body as the connection handler set them (it overwrites what the client sent) and echoed in
    every reply, so tests can prove the override. ``X-Connection-Id`` is required and must equal
    the body's ``connectionId``.

    THE ``command`` MESSAGE EXECUTES NOTHING. This backend never runs a process, opens a file
    or touches the host because of a message: the reply's ``output`` is the command text
    itself, ``exitCode`` is 0 and ``executed`` is false. A real backend replaces this with its
    own sandboxed terminal.

``POST /api/ws/disconnect``
    Records the notification in memory (``GET /api/admin/disconnects``) and answers 200.

Push (what a real backend does when it has something to say):

``POST /api/push/session/{sessionId}``
    Sends the JSON body to every connection of the session through ``@connections`` with
    ``ws_bridge.push`` (query of the table's ``sessionId-index``; records answering 410 are
    deleted). Answers ``{"sent": n, "gone": m, "failed": k}``; 404 for an unknown session;
    413 over 128 KB.

Session model (deterministic, in memory): a session is an id and a set of member user ids.
Sessions come from ``--session ID:USER`` (repeatable; repeating an id adds members) and from
``PUT /api/admin/sessions/{id}`` with ``{"users": [...]}``; ``DELETE`` removes one. Nothing else
creates a session.

Admin and debug endpoints (LOCAL STACK ONLY: they have no authentication and exist so tests
can arrange and observe; a real backend has none of them, and neither does the push endpoint
without its own authentication):

- ``GET /api/admin/health``
- ``GET /api/admin/sessions``, ``PUT|DELETE /api/admin/sessions/{id}``
- ``GET /api/admin/sessions/{id}/state``: the session's state (``wslocal.session_state``): the
  terminal size of the last ``resize``, the recent ``command`` results, and ``store``
  (``redis`` with ``--redis-url``/``REDIS_URL``, shared by every backend on that server;
  ``memory`` otherwise)
- ``GET|POST /api/admin/faults``: ``{"mode": "none"|"slow"|"error_5xx"|"invalid_json"|"down",
  "delay_seconds": x, "status": 5xx, "endpoints": ["validate", "message", "disconnect"]}``
  changes how the three contract endpoints answer (see ``FAULT_MODES``)
- ``GET /api/admin/disconnects``: the disconnect notifications received
- ``GET /api/admin/messages``: metadata of the messages received: ids and type (``other`` for
  an unknown type), never content
- ``GET /api/admin/validations``: the validate calls received (session id, status; never
  the token), so a test can tell a refusal by the authorizer (no call) from the backend's
- ``GET /api/admin/signatures``: ``{"signing": bool, "verified": n, "refused": {reason: n}}``
- ``POST /api/admin/reset``: clears the logs, the counts and the fault

Request signatures: started with ``--signing-secret-arn ARN``, the backend verifies every
validate, message and disconnect request with ``ws_bridge.request_signing.RequestVerifier``
(headers ``X-Bridge-Timestamp``, ``X-Bridge-Nonce``, ``X-Bridge-Signature``; the secret's
AWSCURRENT and AWSPREVIOUS keys) before anything else, and answers 401
``bad_request_signature`` to unsigned, wrongly signed, stale and replayed requests.

Logs are JSON lines on stderr with the route template, status, duration and ids; never a
token, a header value or a message body.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Final, Protocol
from urllib.parse import unquote, urlsplit

import jwt

from ws_bridge.jwt_verifier import (
    InvalidTokenError,
    KeyUnavailableError,
    TokenVerifier,
    load_hmac_secret,
)
from ws_bridge.logs import JsonFormatter
from wslocal.devtoken import Identity, TokenCheck, authorizer_settings
from wslocal.session_state import (
    MemorySessionState,
    SessionState,
    SessionStateError,
    open_session_state,
    record_reply,
)

LOGGER = logging.getLogger("wslocal.reference_backend")

HOST: Final = "127.0.0.1"
MAX_REQUEST_BYTES: Final = 1024 * 1024
MAX_PUSH_BYTES: Final = 128 * 1024
COLS_RANGE: Final = (1, 1000)
ROWS_RANGE: Final = (1, 1000)
MAX_FAULT_DELAY_SECONDS: Final = 120.0
MESSAGE_TYPES: Final = ("ping", "command", "resize")
CONTRACT_ENDPOINTS: Final = frozenset({"validate", "message", "disconnect"})
# The routes the connection handler calls: signed when the backend checks signatures.
SIGNED_ROUTES: Final = frozenset(
    {"/api/labs/session/{sessionId}/validate", "/api/ws/message", "/api/ws/disconnect"}
)
FAULT_MODES: Final[Mapping[str, str]] = {
    "none": "answer normally",
    "slow": "wait delay_seconds, then answer normally",
    "error_5xx": "answer `status` (default 500) with a JSON error body",
    "invalid_json": "answer 200 with Content-Type application/json and a body that is not JSON",
    "down": "read the request, then drop the TCP connection without answering",
}
INVALID_JSON_BODY: Final = b'{"type": "pong", "timestamp": '


@dataclass(frozen=True)
class PushOutcome:
    """What a push did: delivered, stale connections removed (410), other failures."""

    sent: int
    gone: int
    failed: int = 0


Pusher = Callable[[str, bytes], PushOutcome]
"""Sends ``data`` to every connection of a session: ``pusher(session_id, data)``."""


class Tokens(Protocol):
    """How the backend checks the bearer token of a validate call (``wslocal.devtoken.
    TokenCheck``: the authorizer's own verification, HMAC or JWKS). ``identify`` raises
    ``InvalidTokenError`` (401) or ``KeyUnavailableError`` (503)."""

    def identify(self, token: str) -> Identity: ...


class SignedRequests(Protocol):
    """Checks the handler's request signature (``ws_bridge.request_signing.RequestVerifier``):
    ``verify`` raises an exception with a ``reason`` attribute when the request is refused."""

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None: ...


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; ``abort`` drops the connection instead (fault mode ``down``)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    abort: bool = False


@dataclass(frozen=True)
class Fault:
    """The injected fault applied to the contract endpoints named in ``endpoints``."""

    mode: str = "none"
    delay_seconds: float = 0.0
    status: int = 500
    endpoints: frozenset[str] = CONTRACT_ENDPOINTS

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "delay_seconds": self.delay_seconds,
            "status": self.status,
            "endpoints": sorted(self.endpoints),
        }


class RequestError(Exception):
    """A client error answered as ``{"type": "error", "error": code, "message": text}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode())


def _now_ms() -> int:
    return int(time.time() * 1000)


def parse_fault(payload: Any) -> Fault:
    """Validate an admin fault request; raise ``RequestError`` when it is malformed."""
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_fault", "the fault must be a JSON object")
    mode = payload.get("mode", "none")
    if mode not in FAULT_MODES:
        raise RequestError(400, "invalid_fault", f"mode must be one of {sorted(FAULT_MODES)}")
    delay = payload.get("delay_seconds", 0.0)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not 0 <= delay <= MAX_FAULT_DELAY_SECONDS
    ):
        raise RequestError(
            400, "invalid_fault", f"delay_seconds must be between 0 and {MAX_FAULT_DELAY_SECONDS}"
        )
    status = payload.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
        raise RequestError(400, "invalid_fault", "status must be an integer from 500 to 599")
    endpoints = payload.get("endpoints", sorted(CONTRACT_ENDPOINTS))
    if (
        not isinstance(endpoints, list)
        or not endpoints
        or not all(isinstance(e, str) and e in CONTRACT_ENDPOINTS for e in endpoints)
    ):
        raise RequestError(
            400,
            "invalid_fault",
            f"endpoints must be a non-empty subset of {sorted(CONTRACT_ENDPOINTS)}",
        )
    return Fault(mode, float(delay), status, frozenset(endpoints))


def parse_session_flag(value: str) -> tuple[str, str]:
    """``"lab-1:alice"`` → ``("lab-1", "alice")``."""
    session_id, sep, user = value.partition(":")
    if not sep or not session_id or not user:
        raise ValueError(f"expected SESSION_ID:USER_ID, got {value!r}")
    return session_id, user


@dataclass
class _State:
    sessions: dict[str, set[str]] = field(default_factory=dict)
    fault: Fault = field(default_factory=Fault)
    disconnects: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    messages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100_000))
    validations: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    signatures: dict[str, int] = field(default_factory=dict)


_VALIDATE = re.compile(r"^/api/labs/session/([^/]+)/validate$")
_PUSH = re.compile(r"^/api/push/session/([^/]+)$")
_ADMIN_SESSION = re.compile(r"^/api/admin/sessions/([^/]+)$")
_ADMIN_SESSION_STATE = re.compile(r"^/api/admin/sessions/([^/]+)/state$")


class Backend:
    """The backend's logic, independent of the HTTP server (``handle`` is the whole API)."""

    def __init__(
        self,
        tokens: Tokens,
        *,
        pusher: Pusher | None = None,
        sessions: Iterable[tuple[str, str]] = (),
        signed_requests: SignedRequests | None = None,
        state: SessionState | None = None,
    ) -> None:
        self._tokens = tokens
        self.state = state if state is not None else MemorySessionState()
        self._pusher = pusher
        self._signed_requests = signed_requests
        self._lock = threading.Lock()
        self._state = _State()
        self.stopping = threading.Event()
        for session_id, user in sessions:
            self._state.sessions.setdefault(session_id, set()).add(user)

    # -- entry point -------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, Reply]:
        """Answer one request. ``headers`` keys are lower case. Returns (route, reply)."""
        path = urlsplit(raw_path).path
        route, answer = self._route(method, path, headers, body)
        try:
            if route in SIGNED_ROUTES:
                self._check_signature(method, path, headers, body)
            return route, answer()
        except RequestError as err:
            return route, _json(
                err.status, {"type": "error", "error": err.code, "message": err.message}
            )

    def _route(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, Callable[[], Reply]]:
        """The route template of ``path`` and the function that answers the request."""
        if match := _VALIDATE.match(path):
            session_id = unquote(match[1])
            return "/api/labs/session/{sessionId}/validate", lambda: self._contract(
                method, "GET", "validate", lambda: self._recorded_validate(session_id, headers)
            )
        if path == "/api/ws/message":
            return path, lambda: self._contract(
                method, "POST", "message", lambda: self._message(headers, body)
            )
        if path == "/api/ws/disconnect":
            return path, lambda: self._contract(
                method, "POST", "disconnect", lambda: self._disconnect(body)
            )
        if match := _PUSH.match(path):
            session_id = unquote(match[1])
            return "/api/push/session/{sessionId}", lambda: self._push(method, session_id, body)
        if path.startswith("/api/admin/"):
            return self._admin(method, path, body)
        return "unknown", _not_found

    @property
    def signing(self) -> bool:
        """Whether contract requests must carry the handler's signature."""
        return self._signed_requests is not None

    def _check_signature(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        if self._signed_requests is None:
            return
        try:
            self._signed_requests.verify(method, path, headers, body)
        except Exception as err:  # noqa: BLE001 - the verifier's refusal, whatever its type
            reason = str(getattr(err, "reason", "") or "invalid")
            with self._lock:
                key = f"refused_{reason}"
                self._state.signatures[key] = self._state.signatures.get(key, 0) + 1
            LOGGER.warning("request signature refused", extra={"reason": reason})
            raise RequestError(
                401, "bad_request_signature", f"request signature refused: {reason}"
            ) from None
        with self._lock:
            self._state.signatures["verified"] = self._state.signatures.get("verified", 0) + 1

    @staticmethod
    def _require(method: str, expected: str) -> None:
        if method != expected:
            raise RequestError(405, "method_not_allowed", f"use {expected}")

    def _contract(
        self, method: str, expected: str, endpoint: str, answer: Callable[[], Reply]
    ) -> Reply:
        self._require(method, expected)
        with self._lock:
            fault = self._state.fault
        if endpoint not in fault.endpoints or fault.mode == "none":
            return answer()
        if fault.mode == "slow":
            self.stopping.wait(fault.delay_seconds)
            return answer()
        if fault.mode == "error_5xx":
            return _json(
                fault.status,
                {"type": "error", "error": "fault_injected", "message": "injected server error"},
            )
        if fault.mode == "invalid_json":
            return Reply(200, INVALID_JSON_BODY)
        return Reply(0, abort=True)  # down

    # -- contract ----------------------------------------------------------------------------

    def _recorded_validate(self, session_id: str, headers: Mapping[str, str]) -> Reply:
        """``_validate``, its outcome kept for ``GET /api/admin/validations`` (no token)."""
        try:
            reply = self._validate(session_id, headers)
        except RequestError as err:
            status = err.status
            raise
        else:
            status = reply.status
            return reply
        finally:
            with self._lock:
                self._state.validations.append(
                    {"sessionId": session_id, "status": status, "receivedAt": _now_ms()}
                )

    def _validate(self, session_id: str, headers: Mapping[str, str]) -> Reply:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError(401, "unauthorized", "a bearer token is required")
        try:
            identity = self._tokens.identify(token.strip())
        except InvalidTokenError as err:
            LOGGER.info("token refused", extra={"reason": err.reason})
            raise RequestError(401, "unauthorized", "the token is not valid") from err
        except KeyUnavailableError as err:
            LOGGER.error("token key unavailable", extra={"error": str(err)})
            raise RequestError(503, "key_unavailable", "the token key is unavailable") from err
        user = identity.user_id
        token_session = identity.session_id
        with self._lock:
            members = self._state.sessions.get(session_id)
            known = members is not None
            allowed = members is not None and user in members
        if not known:
            raise RequestError(404, "unknown_session", "no such session")
        if not allowed or (token_session and token_session != session_id):
            raise RequestError(403, "forbidden", "this user may not use this session")
        return _json(200, {"valid": True, "sessionId": session_id, "userId": user})

    def _message(self, headers: Mapping[str, str], body: bytes) -> Reply:
        message = _json_object(body)
        ids = {key: message.get(key) for key in ("connectionId", "sessionId", "userId")}
        header_id = headers.get("x-connection-id", "")
        if not header_id:
            raise RequestError(400, "missing_connection_id", "X-Connection-Id is required")
        if header_id != ids["connectionId"]:
            raise RequestError(
                400, "connection_id_mismatch", "X-Connection-Id differs from connectionId"
            )
        kind = message.get("type")
        with self._lock:
            self._state.messages.append(
                {**ids, "type": kind if kind in MESSAGE_TYPES else "other", "receivedAt": _now_ms()}
            )
        try:
            reply = self._answer(kind, message)
            self._remember(str(ids["sessionId"]), reply)
        except RequestError as err:
            return _json(
                err.status,
                {"type": "error", "error": err.code, "message": err.message, **ids},
            )
        return _json(200, {**reply, **ids, "timestamp": _now_ms()})

    @staticmethod
    def _answer(kind: Any, message: dict[str, Any]) -> dict[str, Any]:
        if kind == "ping":
            return {"type": "pong"}
        if kind == "command":
            command = message.get("command")
            if not isinstance(command, str):
                raise RequestError(400, "invalid_command", "command must be a string")
            # Echo only: nothing is executed, opened or written because of this message.
            return {
                "type": "command_result",
                "command": command,
                "result": {"output": command, "exitCode": 0, "executed": False},
            }
        if kind == "resize":
            cols = _bounded_int(message.get("cols"), "cols", COLS_RANGE)
            rows = _bounded_int(message.get("rows"), "rows", ROWS_RANGE)
            return {"type": "resize_ack", "cols": cols, "rows": rows}
        raise RequestError(400, "unknown_type", "type must be one of ping, command, resize")

    def _remember(self, session_id: str, reply: dict[str, Any]) -> None:
        try:
            record_reply(self.state, session_id, reply)
        except SessionStateError as err:
            raise RequestError(
                503, "state_unavailable", "the session state is out of reach"
            ) from err

    def _disconnect(self, body: bytes) -> Reply:
        notice = _json_object(body)
        connection_id = notice.get("connectionId")
        if not isinstance(connection_id, str) or not connection_id:
            raise RequestError(400, "missing_connection_id", "connectionId is required")
        record = {
            key: notice.get(key)
            for key in (
                "connectionId",
                "sessionId",
                "userId",
                "disconnectStatusCode",
                "disconnectReason",
            )
        }
        record["receivedAt"] = _now_ms()
        with self._lock:
            self._state.disconnects.append(record)
        return _json(200, {"ok": True})

    # -- push --------------------------------------------------------------------------------

    def _push(self, method: str, session_id: str, body: bytes) -> Reply:
        self._require(method, "POST")
        if len(body) > MAX_PUSH_BYTES:
            raise RequestError(
                413, "too_large", f"push bodies are limited to {MAX_PUSH_BYTES} bytes"
            )
        try:
            json.loads(body)
        except (UnicodeDecodeError, ValueError) as err:
            raise RequestError(400, "invalid_json", "the body must be JSON") from err
        with self._lock:
            known = session_id in self._state.sessions
        if not known:
            raise RequestError(404, "unknown_session", "no such session")
        if self._pusher is None:
            raise RequestError(503, "push_unavailable", "start the backend with --table")
        try:
            outcome = self._pusher(session_id, body)
        except Exception as err:
            LOGGER.warning(
                "push failed",
                extra={"sessionId": session_id, "error": type(err).__name__},
            )
            raise RequestError(502, "push_failed", "the push could not be delivered") from err
        return _json(200, {"sent": outcome.sent, "gone": outcome.gone, "failed": outcome.failed})

    # -- admin -------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> tuple[str, Callable[[], Reply]]:
        if match := _ADMIN_SESSION_STATE.match(path):
            session_id = unquote(match[1])
            return "/api/admin/sessions/{sessionId}/state", lambda: self._admin_state(
                method, session_id
            )
        if match := _ADMIN_SESSION.match(path):
            session_id = unquote(match[1])
            return "/api/admin/sessions/{sessionId}", lambda: self._admin_session(
                method, session_id, body
            )
        answers: dict[str, Callable[[], Reply]] = {
            "/api/admin/health": lambda: self._admin_get(method, {"ok": True}),
            "/api/admin/sessions": lambda: self._admin_get(method, self._sessions_listing()),
            "/api/admin/faults": lambda: self._admin_faults(method, body),
            "/api/admin/disconnects": lambda: self._admin_get(
                method, {"disconnects": self._snapshot(self._state.disconnects)}
            ),
            "/api/admin/messages": lambda: self._admin_get(
                method, {"messages": self._snapshot(self._state.messages)}
            ),
            "/api/admin/validations": lambda: self._admin_get(
                method, {"validations": self._snapshot(self._state.validations)}
            ),
            "/api/admin/signatures": lambda: self._admin_get(method, self._signature_counts()),
            "/api/admin/reset": lambda: self._admin_reset(method),
        }
        if path in answers:
            return path, answers[path]
        return "unknown", _not_found

    def _admin_state(self, method: str, session_id: str) -> Reply:
        self._require(method, "GET")
        with self._lock:
            known = session_id in self._state.sessions
        if not known:
            raise RequestError(404, "unknown_session", "no such session")
        try:
            snapshot = self.state.snapshot(session_id)
        except SessionStateError as err:
            raise RequestError(
                503, "state_unavailable", "the session state is out of reach"
            ) from err
        return _json(200, {"sessionId": session_id, "store": self.state.kind, **snapshot})

    def _admin_get(self, method: str, payload: dict[str, Any]) -> Reply:
        self._require(method, "GET")
        return _json(200, payload)

    def _sessions_listing(self) -> dict[str, Any]:
        with self._lock:
            return {"sessions": {k: sorted(v) for k, v in sorted(self._state.sessions.items())}}

    def _signature_counts(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._state.signatures)
        refused = {k.removeprefix("refused_"): v for k, v in counts.items() if k != "verified"}
        return {"signing": self.signing, "verified": counts.get("verified", 0), "refused": refused}

    def _snapshot(self, records: deque[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            return list(records)

    def _admin_faults(self, method: str, body: bytes) -> Reply:
        if method == "POST":
            fault = parse_fault(_parse_json(body))
            with self._lock:
                self._state.fault = fault
            LOGGER.info("fault set", extra={"mode": fault.mode})
        else:
            self._require(method, "GET")
        with self._lock:
            return _json(200, self._state.fault.as_dict())

    def _admin_reset(self, method: str) -> Reply:
        self._require(method, "POST")
        with self._lock:
            self._state.fault = Fault()
            self._state.disconnects.clear()
            self._state.messages.clear()
            self._state.validations.clear()
            self._state.signatures.clear()
        return _json(200, {"ok": True})

    def _admin_session(self, method: str, session_id: str, body: bytes) -> Reply:
        if method == "PUT":
            payload = _parse_json(body)
            users = payload.get("users") if isinstance(payload, dict) else None
            if (
                not isinstance(users, list)
                or not users
                or not all(isinstance(u, str) and u for u in users)
            ):
                raise RequestError(400, "invalid_session", "users must be a non-empty list")
            with self._lock:
                self._state.sessions[session_id] = set(users)
            return _json(200, {"sessionId": session_id, "users": sorted(users)})
        self._require(method, "DELETE")
        with self._lock:
            removed = self._state.sessions.pop(session_id, None)
        if removed is None:
            raise RequestError(404, "unknown_session", "no such session")
        return _json(200, {"sessionId": session_id, "deleted": True})


def _not_found() -> Reply:
    raise RequestError(404, "not_found", "no such endpoint")


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise RequestError(400, "invalid_json", "the body must be JSON") from err


def _json_object(body: bytes) -> dict[str, Any]:
    value = _parse_json(body)
    if not isinstance(value, dict):
        raise RequestError(400, "not_an_object", "the body must be a JSON object")
    return value


def _bounded_int(value: Any, name: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(400, "invalid_resize", f"{name} must be an integer from {low} to {high}")
    return value


# -- HTTP --------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: BackendServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    timeout = 120  # idle keep-alive connections end after this
    server_version = "wslocal-backend"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        if self.headers.get("Transfer-Encoding"):
            self._send(Reply(411, b'{"error":"length_required"}'), close=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._send(Reply(413, b'{"error":"too_large"}'), close=True)
            return
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        route, reply = self.server.backend.handle(self.command, self.path, headers, body)
        fields: dict[str, Any] = {
            "method": self.command,
            "route": route,
            "status": reply.status if not reply.abort else "dropped",
            "durationMs": round((time.monotonic() - started) * 1000, 1),
        }
        if connection_id := headers.get("x-connection-id"):
            fields["connectionId"] = connection_id
        LOGGER.info("request", extra=fields)
        if reply.abort:
            self._drop()
            return
        self._send(reply)

    def _send(self, reply: Reply, *, close: bool = False) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)

    def _drop(self) -> None:
        """Reset the TCP connection without a response (SO_LINGER 0 → RST on close)."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log: it prints raw request lines."""

    def log_error(self, format: str, *args: Any) -> None:
        LOGGER.warning("malformed request")


class BackendServer(ThreadingHTTPServer):
    """A threading HTTP server bound to 127.0.0.1 that serves one ``Backend``."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log the exception type only: the default prints a traceback to stderr."""
        error = sys.exc_info()[0]
        LOGGER.error("request failed", extra={"error": error.__name__ if error else "unknown"})

    def __init__(self, backend: Backend, port: int = 0) -> None:
        self.backend = backend
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def stop(self) -> None:
        """Stop serving (from any thread but the serving one) and close the socket."""
        self.backend.stopping.set()
        self.shutdown()
        self.server_close()


# -- push through ws_bridge --------------------------------------------------------------------


def ws_bridge_pusher(table_name: str, callback_url: str) -> Pusher:
    """A ``Pusher`` backed by ``ws_bridge.push.push_to_session``.

    DynamoDB comes from ``AWS_ENDPOINT_URL``; ``@connections`` calls go to ``callback_url``
    (the stage URL, ``http://127.0.0.1:M/STAGE`` locally).
    """
    from ws_bridge import push

    def pusher(session_id: str, data: bytes) -> PushOutcome:
        result = push.push_to_session(table_name, session_id, data, endpoint_url=callback_url)
        return PushOutcome(sent=result.sent, gone=result.gone, failed=result.failed)

    return pusher


def assume_backend_role(role_arn: str) -> None:
    """Make this process's boto3 clients use temporary credentials of `role_arn`
    (sts:AssumeRole, renewed before they expire), as a backend on AWS runs with its role."""
    import boto3
    import botocore.session
    from botocore.credentials import RefreshableCredentials

    sts = boto3.client("sts")

    def fetch() -> dict[str, str]:
        issued = sts.assume_role(RoleArn=role_arn, RoleSessionName="reference-backend")
        credentials = issued["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    session = botocore.session.get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(  # type: ignore[attr-defined]
        fetch(), fetch, "sts-assume-role"
    )
    boto3.setup_default_session(botocore_session=session)
    LOGGER.info("pushing as role %s", role_arn)


# -- CLI ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.reference_backend",
        description="Reference backend of the local stack (local development and tests only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--table", help="connections table (enables push)")
    parser.add_argument("--callback-url", help="@connections base URL: http://127.0.0.1:M/STAGE")
    parser.add_argument(
        "--role-arn", help="push (DynamoDB, @connections) with this role's temporary credentials"
    )
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--jwt-secret", help="HMAC key (visible in the process list: local only)")
    secret.add_argument("--jwt-secret-arn", help="Secrets Manager secret holding the HMAC key")
    secret.add_argument("--jwks-url", help="verify RS*/ES* tokens by this JWKS instead")
    parser.add_argument(
        "--jwt-algorithm",
        dest="jwt_algorithms",
        action="append",
        metavar="ALG",
        help="allowed JWT algorithm, as the authorizer's JWT_ALGORITHMS (repeatable; "
        "default HS256, RS256 with --jwks-url)",
    )
    parser.add_argument("--jwks-ca-file", help="CA bundle trusted for --jwks-url")
    parser.add_argument("--jwt-issuer", help="required iss")
    parser.add_argument("--jwt-audience", help="required aud")
    parser.add_argument("--jwt-leeway-seconds", type=int, default=30)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or None,
        help="keep session state in this Redis (default $REDIS_URL; unset: in memory)",
    )
    parser.add_argument("--user-claim", default="sub")
    parser.add_argument("--session-claim", default="sessionId")
    parser.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="ID:USER",
        help="create session ID with member USER (repeatable)",
    )
    parser.add_argument(
        "--signing-secret-arn",
        metavar="ARN",
        help="Secrets Manager secret of the handler's request signatures: validate, message "
        "and disconnect requests that are unsigned, wrongly signed, stale or replayed get 401",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


def token_check(args: argparse.Namespace) -> TokenCheck:
    """The token check the flags describe: the authorizer's verification with these
    settings (``--jwt-secret``: that key; ``--jwt-secret-arn``: read now, so that a wrong ARN
    fails at start; ``--jwks-url``: the keys it serves, over TLS trusting ``--jwks-ca-file``)."""
    options: dict[str, Any] = {
        "algorithms": tuple(args.jwt_algorithms or ("HS256",)),
        "issuer": args.jwt_issuer,
        "audience": args.jwt_audience,
        "leeway_seconds": args.jwt_leeway_seconds,
        "user_claim": args.user_claim,
        "session_claim": args.session_claim,
    }
    if args.jwks_url is not None:
        options["algorithms"] = tuple(args.jwt_algorithms or ("RS256",))
        settings = authorizer_settings(jwks_url=args.jwks_url, **options)
        context = ssl.create_default_context(cafile=args.jwks_ca_file)
        client = jwt.PyJWKClient(args.jwks_url, timeout=5, ssl_context=context)
        return TokenCheck(settings, TokenVerifier(settings, jwks_client=client))
    if args.jwt_secret is not None:
        return TokenCheck.with_secret(args.jwt_secret, **options)
    settings = authorizer_settings(secret_arn=args.jwt_secret_arn, **options)
    key = load_hmac_secret(settings)
    return TokenCheck.with_secret(key, secret_arn=args.jwt_secret_arn, **options)


def signed_requests(secret_arn: str) -> SignedRequests:
    """``ws_bridge.request_signing``'s verifier with the secret's current and previous keys."""
    signing = importlib.import_module("ws_bridge.request_signing")
    # AWSCURRENT, then AWSPREVIOUS when the secret has one (both valid during a rotation).
    load = getattr(signing, "load_verification_keys", None) or signing.load_signing_keys
    verifier: SignedRequests = signing.RequestVerifier(load(secret_arn))
    return verifier


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.table and not args.callback_url:
        _parser().error("--table needs --callback-url")
    try:
        sessions = [parse_session_flag(value) for value in args.session]
    except ValueError as err:
        _parser().error(str(err))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)

    tokens = token_check(args)
    if args.role_arn:
        # The role's own permissions from here on: the development JWT key was read with
        # the stack's keys, the signing key and everything else with the backend's role.
        assume_backend_role(args.role_arn)
    try:
        signing = signed_requests(args.signing_secret_arn) if args.signing_secret_arn else None
    except ModuleNotFoundError:
        _parser().error("--signing-secret-arn needs ws_bridge.request_signing in lambda/")
    pusher = ws_bridge_pusher(args.table, args.callback_url) if args.table else None
    try:
        state = open_session_state(args.redis_url)
    except SessionStateError as err:
        print(f"backend: error: session state: {err}", file=sys.stderr, flush=True)
        return 1
    backend = Backend(
        tokens, pusher=pusher, sessions=sessions, signed_requests=signing, state=state
    )
    server = BackendServer(backend, args.port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.backend.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"backend ready {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    LOGGER.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
