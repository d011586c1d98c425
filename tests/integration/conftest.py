"""One local stack for the integration tests that drive it over real WebSockets.

`stack` applies examples/local to the emulator and starts the reference backend and the
local gateway on free ports, once per test session; everything is torn down at the end.
Tests reach it through `StackHandle`: a token minter, the WebSocket URL, the backend's admin
endpoints and boto3 clients of the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_support import emulator  # noqa: F401 - a fixture of test_emulator*.py
from stack_support import (
    RESTRICTED_AUDIENCE,
    RESTRICTED_ISSUER,
    RESTRICTED_SOURCE,
    SESSIONS,
    RestrictedStack,
    StackHandle,
    StackLogs,
    running_stack,
)

from wslocal.stack import Stack, StackConfig, backend_service, distinct_free_ports, gateway_service


@pytest.fixture(scope="session")
def stack() -> Iterator[StackHandle]:
    with running_stack() as handle:
        yield handle


@pytest.fixture
def healthy_backend(stack: StackHandle) -> Iterator[StackHandle]:
    """The stack with the backend's faults cleared before and after the test."""
    stack.backend("POST", "/api/admin/faults", {"mode": "none"})
    yield stack
    stack.backend("POST", "/api/admin/faults", {"mode": "none"})


# -- hostile input and faults (test_hostile.py, test_faults.py) ------------------------------


@pytest.fixture
def stack_logs(stack: StackHandle) -> StackLogs:
    assert stack.local.workdir is not None
    return StackLogs(stack.local.workdir)


@pytest.fixture
def backend_stopped(stack: StackHandle) -> Iterator[StackHandle]:
    """The stack with the backend process stopped (its port closed), restarted afterwards
    with the same sessions on the same port."""
    stack.local.stop_service("backend")
    try:
        yield stack
    finally:
        stack.local.start_service(backend_service(SESSIONS))
        stack.backend("POST", "/api/admin/faults", {"mode": "none"})


@pytest.fixture(scope="module")
def restricted_stack() -> Iterator[RestrictedStack]:
    """A second stack (its own emulator and apply, ~30 s) for the access-control settings
    the shared one leaves off, and for the browser setup (`identity_sources = []`)."""
    emulator_port, gateway_port, backend_port, connections_port = distinct_free_ports()
    config = StackConfig(
        emulator_port=emulator_port,
        gateway_port=gateway_port,
        backend_port=backend_port,
        connections_port=connections_port,
        name="ws-restricted",
        # The emulator is the stack's own and stops with it: a destroy would only take
        # time (test_emulator, test_demo and the acceptance suite check destroy).
        destroy_on_exit=False,
        variables={
            "allowed_source_cidrs": [f"{RESTRICTED_SOURCE}/32"],
            "jwt_issuer": RESTRICTED_ISSUER,
            "jwt_audience": RESTRICTED_AUDIENCE,
            # The browser setup: the authorizer runs on every connect, so the token may come
            # in Sec-WebSocket-Protocol or the Authorization header alone.
            "identity_sources": [],
        },
        services=(backend_service(SESSIONS), gateway_service()),
    )
    with Stack(config) as local:
        assert local.workdir is not None
        handle = StackHandle(
            local=local,
            ws_url=f"ws://127.0.0.1:{config.gateway_port}/{local.outputs.stage_name}",
            backend_url=f"http://127.0.0.1:{config.backend_port}",
            connections_url=f"http://127.0.0.1:{config.connections_port}/{local.outputs.stage_name}",
        )
        yield RestrictedStack(handle=handle, logs=StackLogs(local.workdir))
