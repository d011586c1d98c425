"""The demo page's server, through the real HTTP server: what a browser on this machine gets,
and what a page on another name that resolves to 127.0.0.1 (DNS rebinding) does not."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from wslocal.browser_demo import DemoApp, DemoSettings, serve
from wslocal.http_server import LocalServer

SECRET = "s" * 32


@pytest.fixture
def page() -> Iterator[LocalServer]:
    settings = DemoSettings(
        ws_url="ws://127.0.0.1:1/local",
        backend_url="http://127.0.0.1:1",
        callback_url="http://127.0.0.1:1/local",
        jwt_secret=SECRET,
        sessions=("lab-1:alice",),
    )
    with serve(DemoApp(settings)) as server:
        yield server


def _call(
    server: LocalServer, method: str, path: str, host: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Host": host or f"127.0.0.1:{server.port}"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_page_declares_no_favicon_to_fetch(page: LocalServer) -> None:
    status, html = _call(page, "GET", "/")
    assert status == 200
    assert b'<link rel="icon" href="data:,">' in html
    assert _call(page, "GET", "/favicon.ico")[0] == 404


def test_the_page_and_its_api_answer_its_own_address(page: LocalServer) -> None:
    assert json.loads(_call(page, "GET", "/api/config")[1]) == {
        "wsUrl": "ws://127.0.0.1:1/local",
        "sessions": ["lab-1:alice"],
    }
    status, body = _call(page, "POST", "/api/token", f"localhost:{page.port}", {"sub": "bob"})
    assert status == 200
    claims = jwt.decode(json.loads(body)["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "bob"
    assert _call(page, "GET", "/demo/demo.js")[0] == 200
    assert _call(page, "GET", "/client/ws-bridge.js")[0] == 200


@pytest.mark.parametrize("path", ["/", "/api/config", "/api/token"])
def test_a_rebinding_page_gets_no_token_and_no_page(page: LocalServer, path: str) -> None:
    method = "POST" if path == "/api/token" else "GET"
    status, body = _call(page, method, path, f"rebind.attacker.test:{page.port}", {"sub": "x"})
    assert status == 421
    assert b"token" not in body
    assert b"<html" not in body
