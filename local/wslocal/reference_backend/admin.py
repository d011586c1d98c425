"""The reference backend's admin and debug routes (LOCAL STACK ONLY: no authentication; they
exist so tests can arrange and observe, and a real backend has none of them). The HTTP
server puts a Host guard in front of them, since a browser can reach 127.0.0.1.

- ``GET /api/admin/health``
- ``GET /api/admin/sessions``, ``PUT|DELETE /api/admin/sessions/{id}`` (``{"users": [...]}``)
- ``GET /api/admin/sessions/{id}/state``: the session's state (``wslocal.session_state``)
- ``GET|POST /api/admin/faults``: the injected fault (``faults.FAULT_MODES``)
- ``GET /api/admin/disconnects``, ``/messages``, ``/validations``: what was received
  (ids, types, statuses and a message's traceparent; never a token or a message's content)
- ``GET /api/admin/signatures``: ``{"signing": bool, "verified": n, "refused": {reason: n}}``
- ``POST /api/admin/reset``: clears the logs, the counts and the fault
- ``POST /api/admin/broadcast``: ``{"topic", "data", "directThreshold"?}`` to the topic's
  subscribers (``topics.TopicDesk.broadcast``; 503 without the subscriptions table)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from wslocal.reference_backend.faults import Fault, parse_fault
from wslocal.reference_backend.replies import Reply, RequestError, json_reply, parse_json
from wslocal.session_state import SessionState, SessionStateError

if TYPE_CHECKING:
    from wslocal.reference_backend.contract import State
    from wslocal.reference_backend.topics import TopicDesk

__all__ = ["AdminRoutes"]


def _not_found() -> Reply:
    raise RequestError(404, "not_found", "no such endpoint")


class AdminRoutes:
    """The admin routes, mixed into ``contract.Backend`` (which sets these attributes)."""

    lock: threading.Lock
    memory: State
    state: SessionState
    topics: TopicDesk | None

    @property
    def signing(self) -> bool:
        raise NotImplementedError

    @staticmethod
    def require(method: str, expected: str) -> None:
        if method != expected:
            raise RequestError(405, "method_not_allowed", f"use {expected}")

    def admin_route(self, method: str, path: str, body: bytes) -> tuple[str, Callable[[], Reply]]:
        parts = path.split("/")  # "", "api", "admin", "sessions", id[, "state"]
        if len(parts) == 6 and parts[3] == "sessions" and parts[5] == "state":
            session_id = unquote(parts[4])
            return "/api/admin/sessions/{sessionId}/state", lambda: self._state_of(
                method, session_id
            )
        if len(parts) == 5 and parts[3] == "sessions" and parts[4]:
            session_id = unquote(parts[4])
            return "/api/admin/sessions/{sessionId}", lambda: self._session(
                method, session_id, body
            )
        answers: dict[str, Callable[[], Reply]] = {
            "/api/admin/health": lambda: self._get(method, {"ok": True}),
            "/api/admin/sessions": lambda: self._get(method, self._sessions()),
            "/api/admin/faults": lambda: self._faults(method, body),
            "/api/admin/disconnects": lambda: self._get(
                method, {"disconnects": self._snapshot(self.memory.disconnects)}
            ),
            "/api/admin/messages": lambda: self._get(
                method, {"messages": self._snapshot(self.memory.messages)}
            ),
            "/api/admin/validations": lambda: self._get(
                method, {"validations": self._snapshot(self.memory.validations)}
            ),
            "/api/admin/signatures": lambda: self._get(method, self._signature_counts()),
            "/api/admin/reset": lambda: self._reset(method),
            "/api/admin/broadcast": lambda: self._broadcast(method, body),
        }
        if path in answers:
            return path, answers[path]
        return "unknown", _not_found

    def _state_of(self, method: str, session_id: str) -> Reply:
        self.require(method, "GET")
        with self.lock:
            known = session_id in self.memory.sessions
        if not known:
            raise RequestError(404, "unknown_session", "no such session")
        try:
            snapshot = self.state.snapshot(session_id)
        except SessionStateError as err:
            raise RequestError(
                503, "state_unavailable", "the session state is out of reach"
            ) from err
        return json_reply(200, {"sessionId": session_id, "store": self.state.kind, **snapshot})

    def _get(self, method: str, payload: dict[str, Any]) -> Reply:
        self.require(method, "GET")
        return json_reply(200, payload)

    def _sessions(self) -> dict[str, Any]:
        with self.lock:
            return {"sessions": {k: sorted(v) for k, v in sorted(self.memory.sessions.items())}}

    def _signature_counts(self) -> dict[str, Any]:
        with self.lock:
            counts = dict(self.memory.signatures)
        refused = {k.removeprefix("refused_"): v for k, v in counts.items() if k != "verified"}
        return {"signing": self.signing, "verified": counts.get("verified", 0), "refused": refused}

    def _snapshot(self, records: deque[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            return list(records)

    def _faults(self, method: str, body: bytes) -> Reply:
        if method == "POST":
            fault = parse_fault(parse_json(body))
            with self.lock:
                self.memory.fault = fault
        else:
            self.require(method, "GET")
        with self.lock:
            return json_reply(200, self.memory.fault.as_dict())

    def _broadcast(self, method: str, body: bytes) -> Reply:
        self.require(method, "POST")
        if self.topics is None:
            raise RequestError(
                503, "topics_unavailable", "start the backend with --subscriptions-table"
            )
        return self.topics.broadcast(body)

    def _reset(self, method: str) -> Reply:
        self.require(method, "POST")
        with self.lock:
            self.memory.fault = Fault()
            self.memory.disconnects.clear()
            self.memory.messages.clear()
            self.memory.validations.clear()
            self.memory.signatures.clear()
        return json_reply(200, {"ok": True})

    def _session(self, method: str, session_id: str, body: bytes) -> Reply:
        if method == "PUT":
            payload = parse_json(body)
            users = payload.get("users") if isinstance(payload, dict) else None
            if (
                not isinstance(users, list)
                or not users
                or not all(isinstance(u, str) and u for u in users)
            ):
                raise RequestError(400, "invalid_session", "users must be a non-empty list")
            with self.lock:
                self.memory.sessions[session_id] = set(users)
            return json_reply(200, {"sessionId": session_id, "users": sorted(users)})
        self.require(method, "DELETE")
        with self.lock:
            removed = self.memory.sessions.pop(session_id, None)
        if removed is None:
            raise RequestError(404, "unknown_session", "no such session")
        return json_reply(200, {"sessionId": session_id, "deleted": True})
