"""The SDK's framework glue, the way teams use it: Flask behind the WSGI middleware (served by
werkzeug) and Starlette behind the ASGI middleware (served by uvicorn), over real HTTP. The
glue reads the raw path itself: a session id with ``@`` verifies, although both frameworks
decode the path they hand the app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from flask import Flask, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ws_bridge_backend import asgi, wsgi
from ws_bridge_backend.calls import BridgeCall
from ws_bridge_backend.signing import sign_request
from ws_bridge_backend.verifier import RequestVerifier
from wslocal.http_server import LocalServer, serve_asgi

KEY = b"glue-test-signing-key-0123456789-0123"
VALIDATE = "/api/labs/session/lab%401/validate"
IDENTITY = {"connectionId": "Kx1=", "sessionId": "lab@1", "userId": "alice", "tokenExpiresAt": 9}


def flask_app() -> Flask:
    app = Flask("glue")

    @app.post("/api/labs/session/<session_id>/validate")
    def validate(session_id: str) -> Any:
        call = wsgi.bridge_call(request.environ)
        # Flask decodes the path (lab@1) and still reads the body the middleware read.
        return {
            "kind": call.kind,
            "user": call.user_id,
            "path": session_id,
            "json": request.get_json(),
        }

    @app.post("/api/ws/message")
    def message() -> Any:
        call = wsgi.bridge_call(request.environ)
        return {"headers": dict(call.headers), "type": call.message_type}

    @app.get("/health")
    def health() -> Any:
        return {"ok": True}

    app.wsgi_app = wsgi.BridgeMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, RequestVerifier([KEY]), unsigned_paths={"/health"}, max_body_bytes=4096
    )
    return app


async def starlette_validate(request: Request) -> JSONResponse:
    call: BridgeCall = asgi.bridge_call(request)
    body = await request.json()  # the middleware replays the body it read
    return JSONResponse(
        {"kind": call.kind, "user": call.user_id, "path": request.path_params["sid"], "json": body}
    )


def starlette_app() -> Starlette:
    routes = [Route("/api/labs/session/{sid}/validate", starlette_validate, methods=["POST"])]
    middleware = [Middleware(asgi.BridgeMiddleware, verifier=RequestVerifier([KEY]))]
    return Starlette(routes=routes, middleware=middleware)


@pytest.fixture(scope="module")
def flask_url() -> Iterator[str]:
    with LocalServer(flask_app().wsgi_app, name="flask") as server:  # type: ignore[arg-type]
        yield server.url


@pytest.fixture(scope="module")
def starlette_url() -> Iterator[str]:
    with serve_asgi(starlette_app()) as url:
        yield url


def post(url: str, path: str, body: Any, *, signed: bool = True, **headers: str) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    sent = {"Content-Type": "application/json", "X-Connection-Id": "Kx1=", **headers}
    if signed:
        trusted = {
            k: v for k, v in sent.items() if k.lower() in ("x-connection-id", "authorization")
        }
        sent.update(sign_request(KEY, "POST", path, data, headers=trusted))
    response = urllib3.PoolManager().request(
        "POST", url + path, body=data, headers=sent, retries=False
    )
    return response.status, json.loads(response.data)


@pytest.mark.parametrize("server", ["flask_url", "starlette_url"])
def test_a_signed_call_reaches_the_app_typed_with_the_raw_path_verified(
    server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(server)
    status, answer = post(url, VALIDATE, IDENTITY, Authorization="Bearer t")
    assert status == 200, answer
    assert answer == {"kind": "validate", "user": "alice", "path": "lab@1", "json": IDENTITY}


@pytest.mark.parametrize("server", ["flask_url", "starlette_url"])
def test_unsigned_and_smuggled_requests_never_reach_the_app(
    server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(server)
    assert post(url, VALIDATE, IDENTITY, signed=False) == (
        401,
        {"error": "bad_request_signature", "reason": "missing_headers"},
    )
    # A signature over the decoded path (what request.path gives) is not the handler's.
    decoded = "/api/labs/session/lab@1/validate"
    data = json.dumps(IDENTITY).encode()
    headers = {
        "X-Connection-Id": "Kx1=",
        **sign_request(KEY, "POST", decoded, data, headers={"X-Connection-Id": "Kx1="}),
    }
    response = urllib3.PoolManager().request("POST", url + VALIDATE, body=data, headers=headers)
    assert response.status == 401
    status, answer = post(url, VALIDATE, {**IDENTITY, "sessionId": "lab-2"})
    assert (status, answer["error"]) == (400, "invalid_call")  # the path names another session


def test_the_wsgi_glue_hands_only_signed_headers_and_limits_the_body(flask_url: str) -> None:
    status, answer = post(
        flask_url, "/api/ws/message", {"type": "ping", **IDENTITY}, **{"X-Other": "x"}
    )
    assert (status, answer) == (200, {"headers": {"x-connection-id": "Kx1="}, "type": "ping"})
    big = {"type": "ping", **IDENTITY, "pad": "x" * 5000}
    assert post(flask_url, "/api/ws/message", big)[0] == 413
    health = urllib3.PoolManager().request("GET", f"{flask_url}/health")
    assert (health.status, json.loads(health.data)) == (200, {"ok": True})


def test_without_a_raw_uri_the_decoded_path_is_encoded_as_the_handler_does() -> None:
    environ = {"SCRIPT_NAME": "", "PATH_INFO": "/api/labs/session/a@b:c+d=e|f/validate"}
    assert wsgi.raw_path(environ) == "/api/labs/session/a%40b%3Ac%2Bd%3De%7Cf/validate"
    assert wsgi.raw_path({"RAW_URI": "/x%40y?q=1"}) == "/x%40y"
    assert wsgi.raw_path({"REQUEST_URI": "http://host:1/x%40y?q"}) == "/x%40y"
    assert asgi.raw_path({"raw_path": b"/x%40y?q=1", "path": "/x@y"}) == "/x%40y"
    assert asgi.raw_path({"path": "/a@b", "root_path": ""}) == "/a%40b"


def test_the_asgi_glue_refuses_websockets_and_passes_lifespan() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = asgi.BridgeMiddleware(app, RequestVerifier([KEY]))
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "lifespan.startup"}

    asyncio.run(middleware({"type": "lifespan"}, receive, send))
    asyncio.run(middleware({"type": "websocket", "path": "/"}, receive, send))
    assert seen == ["lifespan"]
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize("server", ["flask_url", "starlette_url"])
def test_the_glue_verifies_the_path_as_sent_not_as_decoded(
    server: str, request: pytest.FixtureRequest
) -> None:
    # "%7E" decodes to "~", which no encoder writes back as "%7E": only the raw path the
    # server received verifies (the request then reaches the app, which has no such route).
    url = request.getfixturevalue(server)
    data = json.dumps(IDENTITY).encode()
    path = "/api/ws/nothing%7Ehere"
    trusted = {"X-Connection-Id": "Kx1="}
    headers = {**trusted, **sign_request(KEY, "POST", path, data, headers=trusted)}
    response = urllib3.PoolManager().request("POST", url + path, body=data, headers=headers)
    assert response.status == 404
