"""The reference backend's logic, independent of any HTTP server: ``Backend.handle`` is its
whole API (the contract endpoints, push, and the admin routes of ``admin.AdminRoutes``)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from ws_bridge_backend.calls import (
    BridgeCall,
    BridgeGate,
    BridgePaths,
    CallKind,
    Refusal,
    parse_call,
)
from ws_bridge_backend.control import SessionControl
from ws_bridge_backend.delivery import Delivery
from ws_bridge_backend.idempotency import MemoryRequestLedger
from ws_bridge_backend.sessions import SessionError, SessionLayer
from ws_bridge_backend.stream import MemoryStream
from wslocal.reference_backend.admin import AdminRoutes
from wslocal.reference_backend.faults import INVALID_JSON_BODY, Fault
from wslocal.reference_backend.replies import Reply, RequestError, json_reply, parse_json
from wslocal.reference_backend.sessions import OutputStreams, SessionRoutes, stream_request
from wslocal.reference_backend.topics import TOPIC_MESSAGE_TYPES, TopicDesk
from wslocal.session_state import (
    MemorySessionState,
    SessionState,
    SessionStateError,
    record_reply,
)

__all__ = [
    "COLS_RANGE",
    "MAX_CAT_BYTES",
    "MAX_COMMAND_DELAY_SECONDS",
    "MESSAGE_TYPES",
    "ROWS_RANGE",
    "Backend",
    "parse_session_flag",
]

LOGGER = logging.getLogger("wslocal.reference_backend")

COLS_RANGE: Final = (1, 1000)
ROWS_RANGE: Final = (1, 1000)
MESSAGE_TYPES: Final = ("ping", "command", "resize", "stream", "cat", *TOPIC_MESSAGE_TYPES)
MAX_COMMAND_DELAY_SECONDS: Final = 20.0
MAX_CAT_BYTES: Final = 1_000_000
PUSH_ROUTE: Final = "/api/push/session/{sessionId}"


class _StateUnavailable(Exception):
    """The session state store failed while a message ran: 503, and the request forgotten
    (a resend runs it again)."""


def parse_session_flag(value: str) -> tuple[str, str]:
    """``"lab-1:alice"`` → ``("lab-1", "alice")``."""
    session_id, sep, user = value.partition(":")
    if not sep or not session_id or not user:
        raise ValueError(f"expected SESSION_ID:USER_ID, got {value!r}")
    return session_id, user


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bounded_int(value: Any, name: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(400, "invalid_resize", f"{name} must be an integer from {low} to {high}")
    return value


@dataclass(frozen=True)
class Incoming:
    """A request to one of the three contract endpoints, as it came."""

    kind: CallKind
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    path_session: str | None  # validate: the session id in the path, decoded


@dataclass
class State:
    """Everything the backend keeps in memory; guarded by ``Backend.lock``."""

    sessions: dict[str, set[str]] = field(default_factory=dict)
    fault: Fault = field(default_factory=Fault)
    disconnects: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    messages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100_000))
    validations: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    signatures: dict[str, int] = field(default_factory=dict)


class Backend(AdminRoutes, SessionRoutes):
    """The contract endpoints (validate, message, disconnect), push and the admin routes.

    ``gate``: the backend SDK's ``BridgeGate`` (the handler's signature verified on every
    contract call, and the call's identity taken from its signed body); None: unsigned
    calls are trusted as they come (a stack with request signing off). Messages and pushes
    go through the SDK's session layer: ``layer``, or one on memory stores with
    ``delivery`` (the fan-out, ``PusherDelivery`` over ``aws.sdk_pusher``; None: a push
    answers 503). ``control``: kicks and rotations (``SessionControl``; None answers 503).
    ``topics``: subscribe and unsubscribe messages and the admin broadcast (``TopicDesk``;
    None: the error reply ``topics_unavailable``, and 503).
    """

    def __init__(
        self,
        *,
        delivery: Delivery | None = None,
        control: SessionControl | None = None,
        layer: SessionLayer | None = None,
        sessions: Iterable[tuple[str, str]] = (),
        gate: BridgeGate | None = None,
        paths: BridgePaths | None = None,
        state: SessionState | None = None,
        topics: TopicDesk | None = None,
    ) -> None:
        if layer is not None and delivery is not None:
            raise ValueError("give delivery to the layer, not beside it")
        self.state = state if state is not None else MemorySessionState()
        self.paths = gate.paths if gate is not None else (paths or BridgePaths())
        self.layer = layer or SessionLayer(MemoryStream(), MemoryRequestLedger(), delivery)
        self.control = control
        self.topics = topics
        self._gate = gate
        self.lock = threading.Lock()
        self.memory = State()
        self.runs: Counter[str] = Counter()
        self.stopping = threading.Event()
        self.streams = OutputStreams(self.layer, self.stopping)
        for session_id, user in sessions:
            self.memory.sessions.setdefault(session_id, set()).add(user)

    def known(self, session_id: str) -> bool:
        with self.lock:
            return session_id in self.memory.sessions

    def leave(self, session_id: str, user_id: str) -> bool:
        """Take ``user_id`` out of the session's members; whether they were one."""
        with self.lock:
            members = self.memory.sessions.get(session_id, set())
            present = user_id in members
            members.discard(user_id)
            return present

    @property
    def signing(self) -> bool:
        """Whether contract calls must carry the handler's signature."""
        return self._gate is not None

    # -- entry point -------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, Reply]:
        """Answer one request (``raw_path`` as sent, percent-encoded). Returns (route, reply)."""
        path = urlsplit(raw_path).path
        route, answer = self._route(method, path, headers, body)
        try:
            return route, answer()
        except RequestError as err:
            return route, json_reply(
                err.status, {"type": "error", "error": err.code, "message": err.message}
            )

    def _route(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, Callable[[], Reply]]:
        """The route template of ``path`` and the function that answers the request."""
        matched = self.paths.match(path)
        if matched is not None:
            kind, path_session = matched
            incoming = Incoming(kind, method, path, headers, body, path_session)
            return getattr(self.paths, kind), lambda: self._contract(incoming)
        if path.startswith("/api/push/session/") and path.count("/") == 4:
            session_id = unquote(path.rsplit("/", 1)[1])
            return PUSH_ROUTE, lambda: self._push(method, session_id, body)
        if path.startswith("/api/admin/"):
            return self.session_route(method, path, body) or self.admin_route(method, path, body)
        return "unknown", _not_found

    # -- contract ----------------------------------------------------------------------------

    def _call(self, incoming: Incoming) -> BridgeCall:
        """The verified call (or, without a gate, the call as it came)."""
        try:
            if self._gate is None:
                if incoming.method != "POST":
                    raise Refusal(405, "method_not_allowed", "use POST")
                lowered = {name.lower(): value for name, value in incoming.headers.items()}
                return parse_call(
                    incoming.kind, incoming.body, lowered, path_session=incoming.path_session
                )
            call = self._gate.check(incoming.method, incoming.path, incoming.headers, incoming.body)
        except Refusal as refusal:
            if refusal.status == 401:
                self._count(f"refused_{refusal.detail}")
                raise RequestError(
                    401, "bad_request_signature", f"request signature refused: {refusal.detail}"
                ) from None
            raise RequestError(
                refusal.status, refusal.error, refusal.detail or refusal.error
            ) from None
        if call is None:  # the gate matched these paths already: cannot happen
            raise RequestError(404, "not_found", "no such endpoint")
        self._count("verified")
        return call

    def _count(self, key: str) -> None:
        if self._gate is None:
            return
        with self.lock:
            self.memory.signatures[key] = self.memory.signatures.get(key, 0) + 1

    def _contract(self, incoming: Incoming) -> Reply:
        if incoming.kind == "validate":
            return self._recorded_validate(incoming)
        call = self._call(incoming)
        if incoming.kind == "message":
            return self._faulty("message", lambda: self._message(call))
        return self._faulty("disconnect", lambda: self._disconnect(call))

    def _faulty(self, endpoint: str, answer: Callable[[], Reply]) -> Reply:
        with self.lock:
            fault = self.memory.fault
        if endpoint not in fault.endpoints or fault.mode == "none":
            return answer()
        if fault.mode == "slow":
            self.stopping.wait(fault.delay_seconds)
            return answer()
        if fault.mode == "error_5xx":
            return json_reply(
                fault.status,
                {"type": "error", "error": "fault_injected", "message": "injected server error"},
            )
        if fault.mode == "invalid_json":
            return Reply(200, INVALID_JSON_BODY)
        return Reply(0, abort=True)  # down

    def _recorded_validate(self, incoming: Incoming) -> Reply:
        """``_validate``, its outcome kept for ``GET /api/admin/validations`` (no token)."""
        status = 0
        try:
            call = self._call(incoming)
            reply = self._faulty("validate", lambda: self._validate(call))
        except RequestError as err:
            status = err.status
            raise
        else:
            status = reply.status
            return reply
        finally:
            with self.lock:
                self.memory.validations.append(
                    {"sessionId": incoming.path_session, "status": status, "receivedAt": _now_ms()}
                )

    def _validate(self, call: BridgeCall) -> Reply:
        """The identity is the handler's (signed): no token is parsed here."""
        with self.lock:
            members = self.memory.sessions.get(call.session_id)
        if members is None:
            raise RequestError(404, "unknown_session", "no such session")
        if call.user_id not in members:
            raise RequestError(403, "forbidden", "this user may not use this session")
        return json_reply(
            200, {"valid": True, "sessionId": call.session_id, "userId": call.user_id}
        )

    def _message(self, call: BridgeCall) -> Reply:
        if "x-connection-id" not in {name.lower() for name in call.headers}:
            raise RequestError(400, "missing_connection_id", "X-Connection-Id is required")
        kind = call.body.get("type")
        with self.lock:
            self.memory.messages.append(
                {
                    "connectionId": call.connection_id,
                    "sessionId": call.session_id,
                    "userId": call.user_id,
                    "type": kind if kind in MESSAGE_TYPES else "other",
                    "receivedAt": _now_ms(),
                    # The signed W3C traceparent the handler sent (docs/design.md, "Tracing").
                    "traceparent": call.traceparent,
                }
            )
        try:
            answer = self.layer.handle(call, self._run)
        except _StateUnavailable as err:
            raise RequestError(
                503, "state_unavailable", "the session state is out of reach"
            ) from err
        return Reply(answer.status, answer.body)

    def _run(self, call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        """The app behind the session layer: runs once per request id (counted for
        ``GET /api/admin/requests``); a refused message is a numbered error reply."""
        request_id = message.get("id")
        if isinstance(request_id, str):
            with self.lock:
                self.runs[request_id] += 1
        try:
            reply = self._answer(call, message)
        except RequestError as err:
            raise SessionError(err.code, err.message) from None
        try:
            record_reply(self.state, call.session_id, reply)
        except SessionStateError as err:
            raise _StateUnavailable from err
        ids = {"connectionId": call.connection_id, "sessionId": call.session_id}
        return {**reply, **ids, "userId": call.user_id, "timestamp": _now_ms()}

    def _answer(self, call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        kind = message.get("type")
        if kind == "ping":
            return {"type": "pong"}
        if kind == "command":
            command = message.get("command")
            if not isinstance(command, str):
                raise RequestError(400, "invalid_command", "command must be a string")
            delay = message.get("delay", 0)
            if isinstance(delay, int | float) and not isinstance(delay, bool):
                self.stopping.wait(min(max(0.0, delay), MAX_COMMAND_DELAY_SECONDS))
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
        if kind == "stream":
            lines, interval, size = stream_request(message)
            self.streams.start(call.session_id, lines, interval, size)
            return {"type": "stream_started", "lines": lines, "interval": interval}
        if kind == "cat":
            size = _bounded_int(message.get("bytes"), "bytes", (0, MAX_CAT_BYTES))
            return {"type": "cat_result", "bytes": size, "text": "x" * size}
        if kind in TOPIC_MESSAGE_TYPES:
            if self.topics is None:
                raise RequestError(
                    503, "topics_unavailable", "start the backend with --subscriptions-table"
                )
            return self.topics.answer(call, message)
        raise RequestError(400, "unknown_type", f"type must be one of {', '.join(MESSAGE_TYPES)}")

    def _disconnect(self, call: BridgeCall) -> Reply:
        keys = ("connectionId", "sessionId", "userId", "disconnectStatusCode", "disconnectReason")
        record = {key: call.body.get(key) for key in keys}
        record["receivedAt"] = _now_ms()
        with self.lock:
            self.memory.disconnects.append(record)
        return json_reply(200, {"ok": True})

    # -- push --------------------------------------------------------------------------------

    def _push(self, method: str, session_id: str, body: bytes) -> Reply:
        self.require(method, "POST")
        message = parse_json(body)
        if not isinstance(message, dict):
            raise RequestError(400, "invalid_message", "a pushed message is a JSON object")
        if not self.known(session_id):
            raise RequestError(404, "unknown_session", "no such session")
        if self.layer.delivery is None:
            raise RequestError(503, "push_unavailable", "start the backend with --table")
        try:
            pushed = self.layer.push(session_id, message)
        except ValueError as err:
            raise RequestError(
                413 if "too_large" in str(err) else 400, "refused", str(err)
            ) from None
        except Exception as err:
            LOGGER.warning(
                "push failed", extra={"sessionId": session_id, "error": type(err).__name__}
            )
            raise RequestError(502, "push_failed", "the push could not be delivered") from err
        assert pushed.result is not None  # a delivery: checked above
        counts = {"sent": pushed.result.sent, "gone": pushed.result.gone}
        counts |= {"failed": pushed.result.failed, "seq": pushed.last_seq}
        if pushed.result.expired:  # only then: callers of the earlier answer compare it whole
            counts["expired"] = pushed.result.expired
        return json_reply(200, counts)


def _not_found() -> Reply:
    raise RequestError(404, "not_found", "no such endpoint")
