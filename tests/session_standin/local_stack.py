"""The real local stack for the session protocol's tests (tests/integration, tests/browser),
where the stand-in (``server``) is not enough: the reference backend keeps its streams and
request ids in a real Redis (``wslocal.redis_service``), the gateway breaks the network on
demand (its ``/_wslocal/faults/drop`` endpoint and the flags in ``gateway_args``), and the
Python client (``ws_bridge_client``, ``client``) or the browser client connects.

Each test uses a session of its own (``new_session``): a session is one stream, and the
connections of other tests must not see its messages.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ws_bridge_client import Backoff, Event, SessionClient, SessionSettings
from wslocal.devtoken import mint_token
from wslocal.redis_service import redis_backend_service, redis_service, redis_url
from wslocal.stack import Service, Stack, StackConfig, distinct_free_ports, gateway_service

# Fast retries: a drop costs tens of milliseconds, not seconds.
FAST = Backoff(0.01, 0.05, 5)
# API Gateway's 2-hour limit and the clients' 5-minute margin, made short for the rollover
# tests (the gateway's --max-duration): a client moves to a new connection every 4 s.
SHORT_MAX_DURATION_SECONDS = 6
SHORT_ROLLOVER_MARGIN_SECONDS = 2


@dataclass(frozen=True)
class SessionStack:
    local: Stack
    ws_url: str
    backend_url: str
    faults_url: str  # the gateway's @connections port, where /_wslocal/faults/drop is
    connections_url: str

    def token(self, sub: str = "alice", session: str = "lab-1", **claims: Any) -> str:
        return mint_token(self.local.jwt_secret, sub=sub, session_id=session, extra_claims=claims)

    def backend(self, method: str, path: str, body: Any = None) -> Any:
        return _call(f"{self.backend_url}{path}", method, body)

    def new_session(self, *users: str) -> str:
        """A session of the test's own, with ``users`` (alice by default) as members."""
        session = f"s-{time.monotonic_ns()}"
        self.backend("PUT", f"/api/admin/sessions/{session}", {"users": list(users or ["alice"])})
        return session

    def drop(self, session_id: str) -> list[str]:
        """Cut every connection of the session as a network does (no close frame)."""
        answer = _call(f"{self.faults_url}/_wslocal/faults/drop", "POST", {"sessionId": session_id})
        dropped: list[str] = answer["dropped"]
        return dropped

    def runs(self, request_id: str) -> int:
        """How often the backend's app ran this request id."""
        return int(self.backend("GET", "/api/admin/requests")["runs"].get(request_id, 0))

    def validations(self, session_id: str) -> int:
        """How many handshakes reached the backend's validate for the session."""
        listed = self.backend("GET", "/api/admin/validations")["validations"]
        return sum(1 for entry in listed if entry["sessionId"] == session_id)

    def connections(self, session_id: str) -> list[str]:
        table = self.local.outputs.table_name
        items = self.local.client("dynamodb").scan(TableName=table)["Items"]
        return [i["connectionId"]["S"] for i in items if i["sessionId"]["S"] == session_id]


def _call(url: str, method: str, body: Any) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the stack's http://127.0.0.1 ports
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


@contextmanager
def session_stack(
    name: str,
    gateway_args: Sequence[str] = (),
    *,
    variables: dict[str, Any] | None = None,
    services: Sequence[Service] = (),
) -> Iterator[SessionStack]:
    """examples/local (with ``variables``) on an emulator of its own, the reference backend
    on a redis-server, the gateway with ``gateway_args`` (``--max-duration 10``, say), then
    ``services`` (the demo page's server, for a browser)."""
    emulator, gateway, backend, connections, redis_port = distinct_free_ports(5)
    config = StackConfig(
        emulator_port=emulator,
        gateway_port=gateway,
        backend_port=backend,
        connections_port=connections,
        name=name,
        variables=variables or {},
        destroy_on_exit=False,  # the emulator is the stack's own and stops with it
        services=(
            redis_service(redis_port),
            redis_backend_service(redis_url(redis_port), ("lab-1:alice",)),
            gateway_service(gateway_args),
            *services,
        ),
    )
    with Stack(config) as local:
        stage = local.outputs.stage_name
        yield SessionStack(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway}/{stage}",
            backend_url=f"http://127.0.0.1:{backend}",
            faults_url=f"http://127.0.0.1:{connections}",
            connections_url=f"http://127.0.0.1:{connections}/{stage}",
        )


@dataclass
class Seen:
    """What a client delivered and reported."""

    messages: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [dict(event.detail) for event in self.events if event.kind == kind]


def client(
    stack: SessionStack,
    session: str,
    sub: str = "alice",
    *,
    token: Callable[[str], str] | None = None,
    **settings: Any,
) -> tuple[SessionClient, Seen]:
    """A Python client of ``session`` (fresh tokens for ``sub`` in the query string, fast
    retries) and what it delivers and reports."""
    seen = Seen()
    options = {"auth": "query", "backoff": FAST, "reply_timeout": 20.0, **settings}
    return (
        SessionClient(
            stack.ws_url,
            get_token=token or (lambda _reason: stack.token(sub, session)),
            settings=SessionSettings(**options),
            on_message=lambda seq, message: seen.messages.append((seq, message)),
            on_event=seen.events.append,
        ),
        seen,
    )
