"""Everything the acceptance suite does on the backend's side, in one place.

The suite touches the backend's side only here:

- `BackendSide.sessions`: the sessions the backend accepts (session id → user);
- `BackendSide.unsigned_status()`: what the backend answers a message request without the
  handler's signature (a backend that verifies answers 401);
- `BackendSide.verified()`: how many signed handler requests the backend verified, when it
  reports it (the reference backend's `/api/admin/signatures`; None otherwise);
- `BackendSide.after_rotation()`: what the backend needs once the JWT key is rotated. The
  contract asks a backend to accept the new key as the authorizer does; the reference
  backend reads its key once, at start, so locally it is restarted here (a backend that
  re-reads, as the team's must, needs nothing);
- `push(...)`: a push as the backend makes it, with the backend's role (the module's
  `backend_policy_json`): look the session's connections up, post to each, delete the
  record of one that answers 410. Done here with the backend SDK's push, so that a real run needs
  nothing of the team's backend beyond the contract.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ws_bridge_backend.push import Pusher, PushResult
from ws_bridge_backend.registry import ConnectionRegistry

__all__ = ["BackendSide", "push"]


@dataclass(frozen=True)
class BackendSide:
    url: str
    sessions: Mapping[str, str]
    reports_signatures: bool  # the reference backend's admin endpoints are reachable
    restart: Callable[[], None] | None = None  # the local reference backend only

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the backend under test
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
                return int(answer.status), answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()

    def unsigned_status(self) -> int:
        session, user = next(iter(self.sessions.items()))
        message = {"type": "command", "command": "whoami", "sessionId": session, "userId": user}
        return self._request("POST", "/api/ws/message", message)[0]

    def after_rotation(self) -> None:
        if self.restart is not None:
            self.restart()

    def verified(self) -> int | None:
        if not self.reports_signatures:
            return None
        status, body = self._request("GET", "/api/admin/signatures")
        return int(json.loads(body)["verified"]) if status == 200 else None


def push(
    table_name: str,
    session_id: str,
    message: Mapping[str, Any],
    *,
    management: Any,
    dynamodb: Any,
) -> PushResult:
    """Push `message` to a session's connections with the given (backend role) clients."""
    registry = ConnectionRegistry(table_name, dynamodb=dynamodb)
    return Pusher(registry, management=management).to_session(session_id, dict(message))
