"""The reference backend over HTTP: a WSGI application (werkzeug's request parsing) served by
``wslocal.http_server.LocalServer`` on 127.0.0.1, browser-facing (its admin routes are
reachable from a browser's 127.0.0.1, so any ``Host`` but its own is refused: a DNS-rebinding
guard). The raw path the handler signed is read as the server received it."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from ws_bridge_backend.wsgi import raw_path
from wslocal.http_server import LocalServer
from wslocal.reference_backend.contract import Backend
from wslocal.reference_backend.replies import Reply

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["MAX_REQUEST_BYTES", "backend_server", "wsgi_app"]

LOGGER = logging.getLogger("wslocal.reference_backend")
MAX_REQUEST_BYTES: Final = 1024 * 1024


def _drop(environ: WSGIEnvironment) -> None:
    """End the TCP connection without a response (shut down at once: the server's reader
    and writer still hold the socket, so a close alone would wait for them), then end the
    request as a dropped connection, which werkzeug does not log as an error."""
    sock: Any = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError("fault mode down: connection dropped")


def wsgi_app(backend: Backend) -> WSGIApplication:
    """``backend`` as a WSGI application; every request logged (route, status, duration,
    connection id: never a token, a header value or a body)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        if request.headers.get("Transfer-Encoding"):
            reply = Reply(411, b'{"error":"length_required"}')
            return _respond(reply, environ, start_response)
        length = request.content_length or 0
        if not 0 <= length <= MAX_REQUEST_BYTES:
            return _respond(Reply(413, b'{"error":"too_large"}'), environ, start_response)
        body = request.get_data(cache=False) if length else b""
        headers = {key.lower(): value for key, value in request.headers.items()}
        route, reply = backend.handle(request.method, raw_path(environ), headers, body)
        fields: dict[str, Any] = {
            "method": request.method,
            "route": route,
            "status": reply.status if not reply.abort else "dropped",
            "durationMs": round((time.monotonic() - started) * 1000, 1),
        }
        if connection_id := headers.get("x-connection-id"):
            fields["connectionId"] = connection_id
        LOGGER.info("request", extra=fields)
        if reply.abort:
            _drop(environ)
        return _respond(reply, environ, start_response)

    return app


def _respond(
    reply: Reply, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    response = Response(reply.body, status=reply.status, content_type=reply.content_type)
    return response(environ, start_response)


def backend_server(backend: Backend, port: int = 0) -> LocalServer:
    """The backend on 127.0.0.1:``port`` (0: a free one), behind the Host guard."""
    return LocalServer(wsgi_app(backend), port=port, name="reference-backend", browser_facing=True)
