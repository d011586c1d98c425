"""Headless Chromium (the distribution's package) driven by Playwright, against a local stack
deployed with ``identity_sources = []``, the setting a browser that offers its token as the
``bearer`` subprotocol needs.

The browser is never downloaded: Playwright is pointed at the system Chromium
(``$BROWSER_EXECUTABLE``, else ``chromium`` on PATH). Without one the tests fail and say how
to install it; they never skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from session_standin import StandInServer
from session_standin.fixtures import standin  # noqa: F401 - a fixture, found by its name
from session_standin.local_stack import SHORT_MAX_DURATION_SECONDS, SessionStack, session_stack
from wslocal.browser_demo import DemoApp, DemoSettings, demo_service, serve
from wslocal.devtoken import mint_token
from wslocal.stack import (
    Stack,
    StackConfig,
    backend_service,
    distinct_free_ports,
    gateway_service,
)

SESSIONS = ("lab-1:alice", "lab-1:bob", "push-1:alice", "drop-1:alice", "queue-1:alice")
# Short enough that a test sees it: a connection without keepalive is closed (1001) after it.
IDLE_TIMEOUT_SECONDS = 3
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    """The system Chromium, found as tools/system-deps.sh finds it (``$BROWSER_EXECUTABLE``,
    else ``chromium`` on PATH), or a failure that says how to get one (never a skip).
    ``make test`` installs it first when it can."""
    configured = os.environ.get("BROWSER_EXECUTABLE")
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured
        pytest.fail(f"BROWSER_EXECUTABLE={configured} is not an executable file", pytrace=False)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no chromium on PATH: the browser tests need the distribution's package "
        "(make test installs it when run as root on a machine with apt-get; otherwise "
        "sudo apt-get install -y chromium) or BROWSER_EXECUTABLE=/path/to/chromium",
        pytrace=False,
    )


@dataclass(frozen=True)
class BrowserStack:
    local: Stack
    ws_url: str
    backend_url: str
    connections_url: str
    page_url: str
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS

    def token(self, sub: str = "alice", session: str | None = "lab-1", **claims: Any) -> str:
        return mint_token(self.local.jwt_secret, sub=sub, session_id=session, extra_claims=claims)

    def backend(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the stack's http://127.0.0.1 backend
            f"{self.backend_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def drop(self, connection_id: str) -> None:
        """DELETE @connections/{id} on the gateway, SigV4-signed by boto3 (a backend's kick)."""
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.connections_url,
            region_name=self.local.config.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.delete_connection(ConnectionId=connection_id)


@pytest.fixture(scope="module")
def browser_stack() -> Iterator[BrowserStack]:
    emulator_port, gateway_port, backend_port, connections_port = distinct_free_ports(4)
    config = StackConfig(
        emulator_port=emulator_port,
        gateway_port=gateway_port,
        backend_port=backend_port,
        connections_port=connections_port,
        name="ws-browser",
        # The emulator is this fixture's own and is stopped at the end: destroying first
        # would only cost time.
        destroy_on_exit=False,
        # The browser setup: no identity source, so a token offered only as the `bearer`
        # subprotocol reaches the authorizer.
        variables={"identity_sources": []},
        services=(
            backend_service(SESSIONS),
            gateway_service(["--idle-timeout", str(IDLE_TIMEOUT_SECONDS)]),
            demo_service(SESSIONS),
        ),
    )
    with Stack(config) as local:
        yield BrowserStack(
            local=local,
            ws_url=local.outputs.local_websocket_url,
            backend_url=f"http://127.0.0.1:{backend_port}",
            connections_url=local.outputs.local_callback_url,
            page_url=f"http://127.0.0.1:{local.service_ports['browser-demo']}",
        )


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module-scoped: while Playwright's sync API is open, an asyncio loop counts as running
    in this thread, and later tests calling asyncio.run() would fail."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Records every WebSocket the page constructs (URL and offered subprotocols), whoever builds
# it: the tests count handshakes and see where the token went.
RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      window.__sockets.push({ url: String(url), protocols: protocols ?? [], at: Date.now() });
    }
  };
})();
"""


@contextlib.contextmanager
def demo_page(chromium: Any, url: str, init_script: str | None = None) -> Iterator[Any]:
    """The demo page at `url` in a context of its own, ready; no uncaught error in it."""
    context = chromium.new_context(viewport={"width": 1200, "height": 760})
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/")
    page.wait_for_selector("body[data-ready='true']")
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(chromium: Any, browser_stack: BrowserStack) -> Iterator[Any]:
    with demo_page(chromium, browser_stack.page_url, RECORD_SOCKETS) as opened:
        yield opened


# -- the stand-in stack (tests/session_standin): the session protocol without Terraform ---------

STANDIN_SECRET = "stand-in-page-secret-0123456789abcdef"


@dataclass(frozen=True)
class StandInPage:
    """A page of the demo page's server (which serves clients/browser and mints tokens) in
    front of the stand-in stack."""

    page: Any
    standin: StandInServer
    page_url: str


@pytest.fixture
def standin_page(chromium: Any, standin: StandInServer) -> Iterator[StandInPage]:  # noqa: F811
    settings = DemoSettings(
        ws_url=standin.url,
        backend_url=standin.control_url,
        callback_url=f"{standin.control_url}/local",
        jwt_secret=STANDIN_SECRET,
        sessions=("s:alice",),
    )
    server = serve(DemoApp(settings)).start()
    try:
        with demo_page(chromium, server.url) as page:
            yield StandInPage(page, standin, server.url)
    finally:
        server.stop()


# -- the whole stack with a Redis, network faults and a 6 s maximum duration -----------------


@pytest.fixture(scope="module")
def sessions_stack() -> Iterator[SessionStack]:
    """The session tests' real stack (session_standin.local_stack) for a browser: no identity
    source (the token comes as the `bearer` subprotocol), the demo page's server, and the
    gateway closing every connection after SHORT_MAX_DURATION_SECONDS."""
    with session_stack(
        "ws-browser-sessions",
        ["--max-duration", str(SHORT_MAX_DURATION_SECONDS)],
        variables={"identity_sources": []},
        services=(demo_service(("lab-1:alice",)),),
    ) as handle:
        yield handle


@pytest.fixture
def sessions_page(chromium: Any, sessions_stack: SessionStack) -> Iterator[Any]:
    url = f"http://127.0.0.1:{sessions_stack.local.service_ports['browser-demo']}"
    with demo_page(chromium, url) as page:
        yield page
