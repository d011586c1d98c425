"""What the integration tests share besides fixtures: the stack handle, its logs, free
ports and the sessions the reference backend knows. A module of its own (not conftest.py,
whose name other test folders use too) so that test files can import it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wslocal.devtoken import mint_token
from wslocal.stack import Stack, StackConfig, backend_service, distinct_free_ports, gateway_service

# Sessions the backend knows: lab-1 for alice and bob, lab-2 for carol only.
SESSIONS = ("lab-1:alice", "lab-1:bob", "lab-2:carol")


@dataclass(frozen=True)
class StackHandle:
    """What a test needs of the running stack."""

    local: Stack
    ws_url: str
    backend_url: str
    connections_url: str

    def token(self, sub: str = "alice", session: str | None = "lab-1", **claims: Any) -> str:
        """A valid HS256 token signed with the stack's secret (`claims` added last, so they
        may override any claim: expired, not yet valid, another issuer...)."""
        return mint_token(self.local.jwt_secret, sub=sub, session_id=session, extra_claims=claims)

    def url(self, token: str | None = None, **query: str) -> str:
        """The gateway's WebSocket URL with `token` and any other query parameters."""
        params = dict(query)
        if token is not None:
            params["token"] = token
        return f"{self.ws_url}?{urllib.parse.urlencode(params)}" if params else self.ws_url

    def backend(self, method: str, path: str, body: Any = None) -> Any:
        """Call the reference backend (admin/debug endpoints) and return its JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a fixed http://127.0.0.1 URL
            f"{self.backend_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def records(self) -> list[dict[str, Any]]:
        """Every connection record in the table, as DynamoDB returns it."""
        table = self.local.outputs.table_name
        items: list[dict[str, Any]] = self.local.client("dynamodb").scan(TableName=table)["Items"]
        return items


@dataclass(frozen=True)
class StackLogs:
    """Every log file the stack writes (emulator, backend, gateway with its workers'
    output, terraform), read whole or from a mark."""

    directory: Path

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.log"))

    def mark(self) -> dict[str, int]:
        """The current size of each log file."""
        return {path.name: path.stat().st_size for path in self.files()}

    def since(self, mark: Mapping[str, int]) -> dict[str, str]:
        """What each log file gained after `mark` (all of it when it was recreated)."""
        texts: dict[str, str] = {}
        for path in self.files():
            data = path.read_bytes()
            start = mark.get(path.name, 0)
            texts[path.name] = data[start if start <= len(data) else 0 :].decode(
                "utf-8", errors="replace"
            )
        return texts

    def whole(self) -> dict[str, str]:
        return self.since({})


RESTRICTED_ISSUER = "https://id.example.test/"
RESTRICTED_AUDIENCE = "labs"
RESTRICTED_SOURCE = "127.0.0.2"  # a client binds it on the loopback interface


@dataclass(frozen=True)
class RestrictedStack:
    """A stack whose module has a source allow-list, an issuer, an audience and no identity
    sources (the authorizer is called on every connect)."""

    handle: StackHandle
    logs: StackLogs
    issuer: str = RESTRICTED_ISSUER
    audience: str = RESTRICTED_AUDIENCE
    allowed_source: str = RESTRICTED_SOURCE  # the only source address allowed


@contextmanager
def running_stack(**variables: Any) -> Iterator[StackHandle]:
    """examples/local with `variables` applied to an emulator of its own, the reference
    backend (with the role examples/local gives it: backend_service passes `--role-arn`)
    and the gateway (each function with its own role) on free ports."""
    emulator_port, gateway_port, backend_port, connections_port = distinct_free_ports()
    config = StackConfig(
        emulator_port=emulator_port,
        gateway_port=gateway_port,
        backend_port=backend_port,
        connections_port=connections_port,
        variables=variables,
        # The emulator is the stack's own and stops with it: a destroy would only take
        # time (test_emulator, test_demo and the acceptance suite check destroy).
        destroy_on_exit=False,
        services=(backend_service(SESSIONS), gateway_service()),
    )
    with Stack(config) as local:
        stage = local.outputs.stage_name
        yield StackHandle(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway_port}/{stage}",
            backend_url=f"http://127.0.0.1:{backend_port}",
            connections_url=f"http://127.0.0.1:{connections_port}/{stage}",
        )
