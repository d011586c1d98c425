"""The demo page's endpoints, as a WSGI application on the local stack's one HTTP server
(`wslocal.http_server`), browser-facing: a request whose ``Host`` is not this server's own
address (DNS rebinding) is refused before it reaches them."""

from __future__ import annotations

import json
import mimetypes
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from wslocal.devtoken import mint_token
from wslocal.http_server import LocalServer
from wslocal.stack import REPO_ROOT

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DemoApp", "DemoError", "DemoSettings", "demo_wsgi", "serve", "static_files"]

CLIENT_DIR: Final = REPO_ROOT / "clients" / "browser"
DEMO_DIR: Final = CLIENT_DIR / "demo"
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
        url = f"{self.settings.backend_url}/api/push/session/{urllib.parse.quote(session, safe='')}"
        return _post_json(url, body.get("message", {}))

    def drop(self, body: dict[str, Any]) -> Any:
        """Cut the session's connections as a network drop does, through the gateway's fault
        endpoint (`POST /_wslocal/faults/drop` on the `@connections` port): no close frame,
        so the client sees 1006 and reconnects."""
        session = body.get("session")
        if not isinstance(session, str) or not session:
            raise DemoError(400, "session must be a non-empty string")
        parts = urllib.parse.urlsplit(self.settings.callback_url)
        url = f"{parts.scheme}://{parts.netloc}/_wslocal/faults/drop"
        return _post_json(url, {"sessionId": session})

    def actions(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """The POST endpoints: path -> what answers a JSON object body."""
        return {"/api/token": self.token, "/api/push": self.push, "/api/drop": self.drop}


def _post_json(url: str, body: Any) -> Any:
    """POST ``body`` as JSON to one of the stack's own http://127.0.0.1 ports."""
    request = urllib.request.Request(  # noqa: S310 - the stack's http://127.0.0.1 ports
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise DemoError(err.code, f"{url} answered {err.code}") from None


def _send(status: int, body: bytes, content_type: str) -> Response:
    response = Response(body, status, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(status: int, payload: Any) -> Response:
    return _send(status, json.dumps(payload).encode(), "application/json")


def _get(app: DemoApp, path: str) -> Response:
    if path == "/api/config":
        return _json(200, app.config())
    file = app.files.get(path)
    if file is None:
        return _json(404, {"error": "not found"})
    suffix = ".ts" if file.name.endswith(".d.ts") else file.suffix
    content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(file.name)[0]
    return _send(200, file.read_bytes(), content_type or "application/octet-stream")


def _post(app: DemoApp, request: Request) -> Response:
    action = app.actions().get(request.path)
    if action is None:
        return _json(404, {"error": "not found"})
    try:
        length = int(request.headers.get("Content-Length", "0"))
        if not 0 <= length <= MAX_BODY_BYTES:
            raise DemoError(413, "body too large")
        body = json.loads(request.get_data(cache=False) or b"{}")
        if not isinstance(body, dict):
            raise DemoError(400, "the body must be a JSON object")
        return _json(200, action(body))
    except DemoError as err:
        return _json(err.status, {"error": str(err)})
    except ValueError:
        return _json(400, {"error": "the body must be JSON"})


def demo_wsgi(app: DemoApp) -> WSGIApplication:
    """`app`'s endpoints as a WSGI application; each request is one line on stderr."""

    @Request.application
    def wsgi(request: Request) -> Response:
        print(f"[browser-demo] {request.method} {request.path}", file=sys.stderr)
        if request.method == "GET":
            return _get(app, request.path)
        if request.method == "POST":
            return _post(app, request)
        return _json(501, {"error": "unsupported method"})

    served: WSGIApplication = wsgi
    return served


def serve(app: DemoApp, port: int = 0) -> LocalServer:
    """`app` on 127.0.0.1:`port` (0: a free one), refusing foreign ``Host`` headers."""
    return LocalServer(demo_wsgi(app), port=port, name="browser-demo", browser_facing=True)
