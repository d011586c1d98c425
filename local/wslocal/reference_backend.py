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
    Verifies the bearer JWT itself (HS256, the secret the authorizer uses). 401: no token or an
    invalid one. 404: unknown session. 403: the token's user is not a member of the session, or
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
- ``GET|POST /api/admin/faults``: ``{"mode": "none"|"slow"|"error_5xx"|"invalid_json"|"down",
  "delay_seconds": x, "status": 5xx, "endpoints": ["validate", "message", "disconnect"]}``
  changes how the three contract endpoints answer (see ``FAULT_MODES``)
- ``GET /api/admin/disconnects``: the disconnect notifications received
- ``GET /api/admin/messages``: metadata of the messages received: ids and type (``other`` for
  an unknown type), never content
- ``POST /api/admin/reset``: clears both logs and the fault

Logs are JSON lines on stderr with the route template, status, duration and ids; never a
token, a header value or a message body.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import jwt

from ws_bridge.logs import JsonFormatter
from wslocal.devtoken import TokenVerifier, read_secret

LOGGER = logging.getLogger("wslocal.reference_backend")

HOST: Final = "127.0.0.1"
MAX_REQUEST_BYTES: Final = 1024 * 1024
MAX_PUSH_BYTES: Final = 128 * 1024
COLS_RANGE: Final = (1, 1000)
ROWS_RANGE: Final = (1, 1000)
MAX_FAULT_DELAY_SECONDS: Final = 120.0
MESSAGE_TYPES: Final = ("ping", "command", "resize")
CONTRACT_ENDPOINTS: Final = frozenset({"validate", "message", "disconnect"})
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


_VALIDATE = re.compile(r"^/api/labs/session/([^/]+)/validate$")
_PUSH = re.compile(r"^/api/push/session/([^/]+)$")
_ADMIN_SESSION = re.compile(r"^/api/admin/sessions/([^/]+)$")


class Backend:
    """The backend's logic, independent of the HTTP server (``handle`` is the whole API)."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        pusher: Pusher | None = None,
        sessions: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._verifier = verifier
        self._pusher = pusher
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
        route, answer = self._route(method, urlsplit(raw_path).path, headers, body)
        try:
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
                method, "GET", "validate", lambda: self._validate(session_id, headers)
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

    def _validate(self, session_id: str, headers: Mapping[str, str]) -> Reply:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError(401, "unauthorized", "a bearer token is required")
        try:
            claims = self._verifier.verify(token.strip())
        except jwt.InvalidTokenError as err:
            raise RequestError(401, "unauthorized", "the token is not valid") from err
        user = claims[self._verifier.user_claim]
        token_session = claims.get(self._verifier.session_claim)
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
            "/api/admin/reset": lambda: self._admin_reset(method),
        }
        if path in answers:
            return path, answers[path]
        return "unknown", _not_found

    def _admin_get(self, method: str, payload: dict[str, Any]) -> Reply:
        self._require(method, "GET")
        return _json(200, payload)

    def _sessions_listing(self) -> dict[str, Any]:
        with self._lock:
            return {"sessions": {k: sorted(v) for k, v in sorted(self._state.sessions.items())}}

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


# -- CLI ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.reference_backend",
        description="Reference backend of the local stack (local development and tests only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--table", help="connections table (enables push)")
    parser.add_argument("--callback-url", help="@connections base URL: http://127.0.0.1:M/STAGE")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--jwt-secret", help="HMAC key (visible in the process list: local only)")
    secret.add_argument("--jwt-secret-arn", help="Secrets Manager secret holding the HMAC key")
    parser.add_argument("--jwt-issuer", help="required iss")
    parser.add_argument("--jwt-audience", help="required aud")
    parser.add_argument("--jwt-leeway-seconds", type=int, default=30)
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
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


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

    secret = args.jwt_secret if args.jwt_secret is not None else read_secret(args.jwt_secret_arn)
    verifier = TokenVerifier(
        secret=secret,
        issuer=args.jwt_issuer,
        audience=args.jwt_audience,
        leeway_seconds=args.jwt_leeway_seconds,
        user_claim=args.user_claim,
        session_claim=args.session_claim,
    )
    pusher = ws_bridge_pusher(args.table, args.callback_url) if args.table else None
    server = BackendServer(Backend(verifier, pusher=pusher, sessions=sessions), args.port)

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
