"""WSGI middleware: every request verified before the app sees it (Flask, Django, any WSGI app).

    from ws_bridge_backend.wsgi import BridgeMiddleware, bridge_call

    app.wsgi_app = BridgeMiddleware(app.wsgi_app, verifier)   # Flask

    @app.post("/api/ws/message")
    def message():
        call = bridge_call(request.environ)   # BridgeCall: kind, identity, body, signed headers

The raw path the signature covers is read here, from the server's ``RAW_URI`` (gunicorn,
werkzeug) or ``REQUEST_URI`` (werkzeug, mod_wsgi, uWSGI): Flask's ``request.path`` is
decoded, so a session id with ``@`` would not verify from it. Without either, the decoded
path is encoded again (``@ : + = |`` as ``%40 %3A %2B %3D %7C``, as the handler encodes a
session id). The body is read once and handed to the app again unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ws_bridge_backend.calls import (
    DEFAULT_MAX_BODY_BYTES,
    BridgeCall,
    BridgeGate,
    BridgePaths,
    Refusal,
)
from ws_bridge_backend.verifier import RequestVerifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ENVIRON_KEY", "BridgeMiddleware", "bridge_call", "raw_path"]

ENVIRON_KEY = "ws_bridge.call"


def raw_path(environ: Mapping[str, Any]) -> str:
    """The request target's path as the client sent it, without the query string."""
    for name in ("RAW_URI", "REQUEST_URI"):
        value = environ.get(name)
        if isinstance(value, str) and value:
            if not value.startswith("/"):  # absolute form: http://host/path
                value = urlsplit(value).path or "/"
            return value.split("?", 1)[0]
    decoded = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    # PEP 3333: PATH_INFO is the decoded path's bytes as latin-1 characters.
    return quote(decoded.encode("latin-1"), safe="/")


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def bridge_call(environ: Mapping[str, Any]) -> BridgeCall:
    """The verified call of this request; ``LookupError`` for a request that is none of the
    handler's three calls (an unsigned path, or another signed path)."""
    call = environ.get(ENVIRON_KEY)
    if not isinstance(call, BridgeCall):
        raise LookupError("this request is not one of the handler's calls")
    return call


class BridgeMiddleware:
    """``app`` behind :class:`~ws_bridge_backend.calls.BridgeGate`: refused requests get
    401 (bad signature), 400 (not a call), 413 (body too large), 500/503 (no key, no
    replay store) with a JSON body; the rest reach ``app`` with ``environ["ws_bridge.call"]``
    (:func:`bridge_call`)."""

    def __init__(
        self,
        app: WSGIApplication,
        verifier: RequestVerifier,
        *,
        paths: BridgePaths | None = None,
        unsigned_paths: Collection[str] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.gate = BridgeGate(
            verifier, paths=paths, unsigned_paths=unsigned_paths, max_body_bytes=max_body_bytes
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = raw_path(environ)
        if self.gate.is_unsigned(path):
            return self.app(environ, start_response)
        try:
            body = self._read_body(environ)
            call = self.gate.check(
                str(environ.get("REQUEST_METHOD", "GET")), path, _headers(environ), body
            )
        except Refusal as refusal:
            return _refuse(refusal, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ[ENVIRON_KEY] = call
        return self.app(environ, start_response)

    def _read_body(self, environ: Mapping[str, Any]) -> bytes:
        limit = self.gate.max_body_bytes
        stream = environ.get("wsgi.input")
        raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if stream is None:
            return b""
        if raw_length:
            if not raw_length.isdigit():
                raise Refusal(400, "bad_content_length")
            length = int(raw_length)
            if length > limit:
                raise Refusal(413, "too_large")
            return _read_exactly(stream, length)
        if not environ.get("wsgi.input_terminated"):
            return b""  # no length and no end marker: PEP 3333 says there is no body
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise Refusal(413, "too_large")
        return bytes(data)


def _read_exactly(stream: Any, length: int) -> bytes:
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            raise Refusal(400, "incomplete_body")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _refuse(refusal: Refusal, start_response: Callable[..., Any]) -> list[bytes]:
    body = refusal.body()
    status = f"{refusal.status} {_REASONS.get(refusal.status, 'Error')}"
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
