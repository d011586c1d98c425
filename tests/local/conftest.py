"""Fixtures for the local stack's own parts: the reference backend and the client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from local_support import SECRET, BackendFactory, BackendHandle, Mint, WsBehaviour, WsServer

from session_standin.fixtures import standin  # noqa: F401 - a fixture, found by its name
from ws_bridge_backend.delivery import Delivery
from wslocal.devtoken import mint_token
from wslocal.reference_backend import Backend, backend_server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so moto answers in-process."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def mint() -> Mint:
    """``mint(sub="alice", session_id="lab-1", **mint_token_options)`` signed with SECRET."""

    def make(sub: str = "alice", session_id: str | None = "lab-1", **kwargs: Any) -> str:
        return mint_token(SECRET, sub=sub, session_id=session_id, **kwargs)

    return make


@pytest.fixture
def start_backend() -> Iterator[BackendFactory]:
    """Start a backend on 127.0.0.1 with sessions lab-1 = {alice, bob}, lab-2 = {carol}."""
    started: list[BackendHandle] = []

    def start(delivery: Delivery | None = None, **options: Any) -> BackendHandle:
        backend = Backend(
            delivery=delivery,
            sessions=[("lab-1", "alice"), ("lab-1", "bob"), ("lab-2", "carol")],
            **options,
        )
        server = backend_server(backend).start()
        handle = BackendHandle(server, backend, urllib3.PoolManager())
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.http.clear()
        handle.server.stop()


@pytest.fixture
def backend(start_backend: BackendFactory) -> BackendHandle:
    return start_backend()


@pytest.fixture
def ws_server() -> Iterator[Callable[[WsBehaviour], WsServer]]:
    servers: list[WsServer] = []

    def start(behaviour: WsBehaviour) -> WsServer:
        server = WsServer(behaviour)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
