"""The browser client's demo page, served next to the local stack (LOCAL ONLY).

``python -m wslocal.browser_demo`` (``make demo-browser``) applies examples/local with
``identity_sources = []`` (so a browser may offer its token as the ``bearer`` subprotocol),
starts the reference backend, the gateway and this page's server, prints the page's URL and
holds everything up until Ctrl-C.

``python -m wslocal.browser_demo serve --port P --ws-url ... --backend-url ...
--callback-url ... --jwt-secret-arn ...`` is the page's server alone (the stack starts it as
a service). It binds 127.0.0.1 and answers:

- ``GET /``: the demo page; ``GET /demo/<file>``: its script and style;
  ``GET /client/<file>``: the browser client (``clients/browser/*.js``, ``*.d.ts``)
- ``GET /api/config``: ``{"wsUrl", "sessions"}``, where the page connects
- ``POST /api/token`` ``{"sub", "session", "ttlSeconds"}``: ``{"token"}``, a development
  token signed with the stack's secret (``wslocal.devtoken``): anyone who can reach this
  endpoint gets a valid token, which is why it exists only here
- ``POST /api/push`` ``{"session", "message"}``: the reference backend's push to a session
- ``POST /api/drop`` ``{"connectionId"}``: ``DELETE @connections/{id}`` on the gateway
  (SigV4-signed by boto3), the way a backend drops a client
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final

import boto3

from wslocal.devtoken import mint_token, read_secret
from wslocal.stack import (
    REPO_ROOT,
    Service,
    Stack,
    StackConfig,
    StackInfo,
    backend_service,
    gateway_service,
)

CLIENT_DIR: Final = REPO_ROOT / "clients" / "browser"
DEMO_DIR: Final = CLIENT_DIR / "demo"
DEFAULT_SESSIONS: Final = ("lab-1:alice", "lab-1:bob")
MAX_BODY_BYTES: Final = 64 * 1024
MAX_TTL_SECONDS: Final = 7200
CONTENT_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class DemoError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DemoSettings:
    ws_url: str
    backend_url: str
    callback_url: str
    jwt_secret: str
    sessions: tuple[str, ...]
    region: str = "us-east-1"


def static_files() -> dict[str, Path]:
    """URL path -> file: fixed at startup, so no request path ever reaches the filesystem."""
    files = {"/": DEMO_DIR / "index.html"}
    for path in sorted(DEMO_DIR.glob("*")):
        if path.is_file():
            files[f"/demo/{path.name}"] = path
    for pattern in ("*.js", "*.d.ts"):
        for path in sorted(CLIENT_DIR.glob(pattern)):
            files[f"/client/{path.name}"] = path
    return files


class DemoApp:
    """The page's endpoints, independent of the HTTP server."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.files = static_files()
        self._management: Any = None

    def config(self) -> dict[str, Any]:
        return {"wsUrl": self.settings.ws_url, "sessions": list(self.settings.sessions)}

    def token(self, body: dict[str, Any]) -> dict[str, Any]:
        sub = body.get("sub", "alice")
        session = body.get("session", "lab-1")
        ttl = body.get("ttlSeconds", 3600)
        if not isinstance(sub, str) or not sub:
            raise DemoError(400, "sub must be a non-empty string")
        if session is not None and not isinstance(session, str):
            raise DemoError(400, "session must be a string or null")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not -3600 <= ttl <= MAX_TTL_SECONDS:
            raise DemoError(400, f"ttlSeconds must be an integer up to {MAX_TTL_SECONDS}")
        token = mint_token(self.settings.jwt_secret, sub=sub, session_id=session, ttl_seconds=ttl)
        return {"token": token, "exp": int(time.time()) + ttl}

    def push(self, body: dict[str, Any]) -> Any:
        session = body.get("session")
        if not isinstance(session, str) or not session:
            raise DemoError(400, "session must be a non-empty string")
        data = json.dumps(body.get("message", {})).encode()
        url = f"{self.settings.backend_url}/api/push/session/{urllib.parse.quote(session, safe='')}"
        request = urllib.request.Request(  # noqa: S310 - the stack's http://127.0.0.1 backend
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise DemoError(err.code, f"the backend answered {err.code}") from None

    def drop(self, body: dict[str, Any]) -> dict[str, Any]:
        connection_id = body.get("connectionId")
        if not isinstance(connection_id, str) or not connection_id:
            raise DemoError(400, "connectionId must be a non-empty string")
        if self._management is None:
            self._management = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=self.settings.callback_url,
                region_name=self.settings.region,
            )
        try:
            self._management.delete_connection(ConnectionId=connection_id)
        except self._management.exceptions.GoneException:
            raise DemoError(410, "no such connection") from None
        return {"dropped": connection_id}


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "wslocal-browser-demo"

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        app = self.server.app
        if path == "/api/config":
            self._json(200, app.config())
            return
        file = app.files.get(path)
        if file is None:
            self._json(404, {"error": "not found"})
            return
        suffix = ".ts" if file.name.endswith(".d.ts") else file.suffix
        content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(file.name)[0]
        self._send(200, file.read_bytes(), content_type or "application/octet-stream")

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        app = self.server.app
        actions = {"/api/token": app.token, "/api/push": app.push, "/api/drop": app.drop}
        action = actions.get(path)
        if action is None:
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 <= length <= MAX_BODY_BYTES:
                raise DemoError(413, "body too large")
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise DemoError(400, "the body must be a JSON object")
            self._json(200, action(body))
        except DemoError as err:
            self._json(err.status, {"error": str(err)})
        except ValueError:
            self._json(400, {"error": "the body must be JSON"})

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        print(f"[browser-demo] {self.command} {self.path.split('?')[0]}", file=sys.stderr)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: DemoApp, port: int = 0) -> None:
        self.app = app
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def demo_service(sessions: Sequence[str] = DEFAULT_SESSIONS, port: int = 0) -> Service:
    """This page's server as a stack service (`port` 0: a free one, printed when ready)."""

    def argv(info: StackInfo) -> list[str]:
        config = info.config
        command = [
            sys.executable, "-m", "wslocal.browser_demo", "serve",
            "--port", str(port),
            "--ws-url", info.outputs.local_websocket_url,
            "--backend-url", f"http://127.0.0.1:{config.backend_port}",
            "--callback-url", info.outputs.local_callback_url,
            "--jwt-secret-arn", info.jwt_secret_arn,
            "--region", config.region,
        ]  # fmt: skip
        for session in sessions:
            command += ["--session", session]
        return command

    return Service("browser-demo", argv, lambda _config: port)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def serve(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        ws_url=args.ws_url,
        backend_url=args.backend_url.rstrip("/"),
        callback_url=args.callback_url,
        jwt_secret=read_secret(args.jwt_secret_arn),
        sessions=tuple(args.session),
        region=args.region,
    )
    server = DemoServer(DemoApp(settings), args.port)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"browser-demo ready {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def up(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        print(f"[stack] {message}", file=sys.stderr, flush=True)

    sessions = tuple(args.session) or DEFAULT_SESSIONS
    config = StackConfig(
        emulator_port=args.emulator_port,
        gateway_port=args.gateway_port,
        backend_port=args.backend_port,
        connections_port=args.connections_port,
        name="ws-browser",
        # The browser setup: no identity source, so a token offered only as the `bearer`
        # subprotocol reaches the authorizer (which then runs on every connect).
        variables={"identity_sources": []},
        services=(backend_service(sessions), gateway_service(), demo_service(sessions, args.port)),
        progress=progress,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with Stack(config) as stack:
            print(f"demo page: http://127.0.0.1:{stack.service_ports['browser-demo']}/", flush=True)
            progress("up; Ctrl-C tears it down")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        progress("stopped")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.browser_demo",
        description="The browser client's demo page next to the local stack (local only).",
    )
    parser.add_argument("--session", action="append", default=[], metavar="ID:USER")
    parser.add_argument("--port", type=int, default=8090, help="the page's port")
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--backend-port", type=int, default=8081)
    parser.add_argument("--connections-port", type=int, default=8082)
    commands = parser.add_subparsers(dest="command")
    server = commands.add_parser("serve", help="only the page's server, for a running stack")
    server.add_argument("--port", type=int, default=0, help="0: any free port")
    server.add_argument("--ws-url", required=True)
    server.add_argument("--backend-url", required=True)
    server.add_argument("--callback-url", required=True)
    server.add_argument("--jwt-secret-arn", required=True)
    server.add_argument("--region", default="us-east-1")
    server.add_argument("--session", action="append", default=[], metavar="ID:USER")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return up(args)


if __name__ == "__main__":
    sys.exit(main())
