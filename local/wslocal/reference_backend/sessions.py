"""The reference backend's side of the session protocol, for tests (LOCAL STACK ONLY: no
authentication, like ``admin``): numbered output streamed at a rate, the runs of each
request id, kicks and rotations.

- ``POST /api/admin/sessions/{id}/stream`` ``{"lines": N, "interval": s, "bytes": n}``:
  push N numbered lines ``{"type": "output", "line": i, "text": ...}`` (``text`` of ``bytes``
  characters, 0 by default) one every ``interval`` seconds, in the background; ``{"lines",
  "firstSeq"?}`` once started. A client's ``{"type": "stream", ...}`` message does the same.
- ``GET /api/admin/requests``: how often the app ran each request id (``{"runs": {id: n}}``):
  a request resent after a reconnect must show 1.
- ``POST /api/admin/kick`` ``{"sessionId", "userId", "reason"}``: the user leaves the
  session (validate answers 403 from now on) and each of their connections gets
  ``kicked``, then is closed; ``{"connectionId", "reason"}`` kicks one connection only.
- ``POST /api/admin/rotate`` ``{"sessionId"}`` or ``{"connectionId"}``: ``rotate``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from ws_bridge_backend.control import SessionControl
from ws_bridge_backend.sessions import SessionLayer
from wslocal.reference_backend.admin import AdminRoutes
from wslocal.reference_backend.replies import Reply, RequestError, json_reply, parse_json

require = AdminRoutes.require

__all__ = ["MAX_STREAM_LINES", "OutputStreams", "SessionRoutes", "stream_request"]

LOGGER = logging.getLogger("wslocal.reference_backend")

MAX_STREAM_LINES: Final = 100_000
MAX_STREAM_INTERVAL: Final = 10.0
MAX_LINE_BYTES: Final = 100_000


def _number(value: Any, name: str, low: float, high: float, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RequestError(400, "invalid_stream", f"{name} must be a number from {low} to {high}")
    return float(value)


def stream_request(body: Mapping[str, Any]) -> tuple[int, float, int]:
    """(lines, interval, bytes) of a stream request; ``RequestError`` 400 otherwise."""
    lines = _number(body.get("lines"), "lines", 1, MAX_STREAM_LINES, 10)
    interval = _number(body.get("interval"), "interval", 0, MAX_STREAM_INTERVAL, 0.01)
    size = _number(body.get("bytes"), "bytes", 0, MAX_LINE_BYTES, 0)
    if lines != int(lines) or size != int(size):
        raise RequestError(400, "invalid_stream", "lines and bytes are whole numbers")
    return int(lines), interval, int(size)


class OutputStreams:
    """Background threads that push numbered lines to a session through the layer."""

    def __init__(self, layer: SessionLayer, stopping: threading.Event) -> None:
        self._layer = layer
        self._stopping = stopping

    def start(self, session_id: str, lines: int, interval: float, size: int) -> None:
        def run() -> None:
            for line in range(1, lines + 1):
                if self._stopping.wait(interval) if interval else self._stopping.is_set():
                    return
                message = {"type": "output", "line": line, "text": "x" * size}
                try:
                    self._layer.push(session_id, message)
                except Exception as err:  # noqa: BLE001 - one line lost is logged; the rest go on
                    LOGGER.warning(
                        "stream line not delivered",
                        extra={"sessionId": session_id, "line": line, "error": type(err).__name__},
                    )

        threading.Thread(target=run, name=f"stream-{session_id}", daemon=True).start()


class SessionRoutes:
    """The admin routes above, mixed into ``contract.Backend`` (which sets these)."""

    lock: threading.Lock
    layer: SessionLayer
    streams: OutputStreams
    control: SessionControl | None
    runs: Counter[str]
    known: Callable[[str], bool]
    leave: Callable[[str, str], bool]

    def session_route(
        self, method: str, path: str, body: bytes
    ) -> tuple[str, Callable[[], Reply]] | None:
        parts = path.split("/")  # "", "api", "admin", "sessions", id, "stream"
        if len(parts) == 6 and parts[3] == "sessions" and parts[5] == "stream":
            session_id = unquote(parts[4])
            return "/api/admin/sessions/{sessionId}/stream", lambda: self._stream(
                method, session_id, body
            )
        answers: dict[str, Callable[[], Reply]] = {
            "/api/admin/requests": lambda: self._requests(method),
            "/api/admin/kick": lambda: self._kick(method, body),
            "/api/admin/rotate": lambda: self._rotate(method, body),
        }
        return (path, answers[path]) if path in answers else None

    def _stream(self, method: str, session_id: str, body: bytes) -> Reply:
        require(method, "POST")
        if not self.known(session_id):
            raise RequestError(404, "unknown_session", "no such session")
        payload = parse_json(body or b"{}")
        lines, interval, size = stream_request(payload if isinstance(payload, dict) else {})
        self.streams.start(session_id, lines, interval, size)
        return json_reply(200, {"sessionId": session_id, "lines": lines, "interval": interval})

    def _requests(self, method: str) -> Reply:
        require(method, "GET")
        with self.lock:
            return json_reply(200, {"runs": dict(self.runs)})

    def _control(self) -> SessionControl:
        if self.control is None:
            raise RequestError(503, "control_unavailable", "start the backend with --table")
        return self.control

    def _kick(self, method: str, body: bytes) -> Reply:
        require(method, "POST")
        payload = _object(body)
        reason = payload.get("reason", "")
        if not isinstance(reason, str):
            raise RequestError(400, "invalid_kick", "reason must be a string")
        connection_id = payload.get("connectionId")
        if isinstance(connection_id, str) and connection_id:
            return json_reply(
                200, {"kicked": int(self._control().disconnect(connection_id, reason))}
            )
        session_id, user_id = payload.get("sessionId"), payload.get("userId")
        if not (isinstance(session_id, str) and isinstance(user_id, str)):
            raise RequestError(400, "invalid_kick", "give connectionId, or sessionId and userId")
        control = self._control()
        left = self.leave(session_id, user_id)  # first: a reconnect is refused from now on
        kicked = control.disconnect_user(session_id, user_id, reason)
        return json_reply(200, {"kicked": kicked, "removed": left})

    def _rotate(self, method: str, body: bytes) -> Reply:
        require(method, "POST")
        payload = _object(body)
        control = self._control()
        if isinstance(payload.get("connectionId"), str):
            return json_reply(200, {"rotated": int(control.rotate(payload["connectionId"]))})
        if isinstance(payload.get("sessionId"), str):
            result = control.rotate_session(payload["sessionId"])
            return json_reply(200, {"rotated": result.sent})
        raise RequestError(400, "invalid_rotate", "give connectionId or sessionId")


def _object(body: bytes) -> dict[str, Any]:
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_request", "the body must be a JSON object")
    return payload
