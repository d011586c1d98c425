"""The one small HTTP server of the local stack's own servers (the reference backend, the
JWKS issuer, the browser demo page, the benchmarks' backends).

A server here is a WSGI application (werkzeug's request/response objects, or any WSGI
callable) served by werkzeug's threaded development server on 127.0.0.1 only, one thread per
connection, connections kept alive between requests (see ``_Handler``). HTTP parsing is
werkzeug's: nothing here reads a request line or a header by hand.

    server = LocalServer(app, port=0, name="reference-backend", browser_facing=True)
    server.start()          # in a daemon thread; or server.serve() in the foreground
    print(server.url)       # http://127.0.0.1:<bound port>
    server.stop()

``browser_facing=True`` adds :func:`host_guard`: a server a browser can reach refuses any
``Host`` header other than its own address (``127.0.0.1:<port>``, ``localhost:<port>``,
``[::1]:<port>``), so a web page on another name that resolves to 127.0.0.1 (DNS rebinding)
cannot read from it or drive it.

ASGI applications (Starlette, the example app) run under uvicorn instead:
:func:`serve_asgi` holds one up on 127.0.0.1 for the length of a ``with`` block.

``tls=<ssl.SSLContext>`` serves HTTPS. The TLS handshake runs in the request's thread, with a
time limit, so a client that connects and says nothing (a port probe) holds up no one; a
failed handshake is logged on the ``wslocal.http_server`` logger.
"""

from __future__ import annotations

import contextlib
import io
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["HOST", "LocalServer", "host_guard", "local_hosts", "serve_asgi"]

HOST = "127.0.0.1"
# A request body up to this size is read before the application runs, which keeps the
# connection alive (see _Handler).
BUFFERED_BODY_BYTES = 1024 * 1024
_KEEP_ALIVE = "wslocal.keep_alive"
# How long a TLS client may take to finish its handshake, and then to send each request.
TLS_TIMEOUT_SECONDS = 30.0
# werkzeug logs every request at INFO on this logger; the servers log what they choose.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
log = logging.getLogger("wslocal.http_server")


class _Handler(WSGIRequestHandler):
    """werkzeug's handler without its per-request access line, with a server name of our
    own (the default names the werkzeug and Python versions), and with HTTP/1.1 keep-alive.

    werkzeug closes every connection after one response, and then discards whatever the
    client sends next, because http.server cannot skip a request body the application left
    unread. This handler reads a body of up to ``BUFFERED_BODY_BYTES`` (with a valid
    ``Content-Length``) before the application runs, so the connection is already at the
    next request: the response then keeps it open, and werkzeug's discarding reads from an
    empty stream. A larger or chunked body goes to the application as a stream and the
    connection closes after the response, as werkzeug does.
    """

    server_version = "wslocal"
    # werkzeug writes a response's headers and its body in separate sends: with Nagle's
    # algorithm on, a client's delayed ACK holds the body back ~40 ms on a kept-alive
    # connection.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def run_wsgi(self) -> None:
        connection_stream = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_stream

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[_KEEP_ALIVE] = False
        if environ.get("wsgi.input_terminated"):  # chunked
            return environ
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return environ
        if 0 <= length <= BUFFERED_BODY_BYTES:
            body = self.rfile.read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if len(body) == length:
                environ[_KEEP_ALIVE] = True
                self.rfile = io.BytesIO()  # what werkzeug drains after the response
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and getattr(self, "environ", {}).get(_KEEP_ALIVE):
            return  # werkzeug's blanket close: this request was read whole
        super().send_header(keyword, value)


def local_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a browser sends for this machine's own server on ``port``."""
    return frozenset({f"{HOST}:{port}", f"localhost:{port}", f"[::1]:{port}"})


def host_guard(app: WSGIApplication, allowed: Callable[[], Iterable[str]]) -> WSGIApplication:
    """``app`` behind a check of the ``Host`` header (DNS-rebinding guard): any other host
    gets 421 Misdirected Request and ``app`` never sees the request. ``allowed`` is called
    per request, so it can name a port bound after the guard was built."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST", "")).lower()
        if host not in allowed():
            body = b'{"error": "misdirected_request", "message": "unknown Host header"}\n'
            start_response(
                "421 Misdirected Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return app(environ, start_response)

    return guarded


class _ThreadedServer(ThreadedWSGIServer):
    """werkzeug's threaded server, with TLS (when ``tls`` is set) handshaken in the request's
    thread: werkzeug's own ``ssl_context`` wraps the listening socket, whose ``accept``
    would then wait on each client's handshake before taking the next connection."""

    name = "server"
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(TLS_TIMEOUT_SECONDS)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as err:
            log.warning("%s: TLS handshake failed (%s)", self.name, type(err).__name__)
            return
        try:
            super().finish_request(connection, client_address)
        finally:
            connection.close()


class LocalServer:
    """A WSGI application on ``127.0.0.1:port`` (0: a free port), one thread per connection."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        port: int = 0,
        name: str = "server",
        browser_facing: bool = False,
        tls: ssl.SSLContext | None = None,
        request_handler: type[WSGIRequestHandler] = _Handler,
    ) -> None:
        self.name = name
        served = host_guard(app, lambda: local_hosts(self.port)) if browser_facing else app
        try:
            self._server = _ThreadedServer(HOST, port, served, handler=request_handler)
        except SystemExit:  # werkzeug exits instead of raising when the port is taken
            raise OSError(f"{name}: cannot listen on {HOST}:{port}") from None
        self._server.name = name
        if tls is not None:
            self._server.tls = tls
            # What werkzeug reads to tell the application (and its SSL error handling) that
            # the request came over HTTPS; the listening socket itself stays plain.
            self._server.ssl_context = tls
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "http" if self._server.tls is None else "https"
        return f"{scheme}://{HOST}:{self.port}"

    def start(self) -> LocalServer:
        """Serve from a daemon thread; returns at once."""
        self._thread = threading.Thread(target=self.serve, name=self.name, daemon=True)
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread or a signal)."""
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._serving.clear()

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread is not None:
            self._serving.wait(timeout=5)  # a thread just started: let it enter its loop
        if self._serving.is_set():
            # shutdown() waits for serve_forever() to notice, so only while it runs.
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def serve_asgi(app: Any, port: int = 0, timeout_seconds: float = 15.0) -> Iterator[str]:
    """``app`` (ASGI) under uvicorn on 127.0.0.1:``port`` (0: a free one) in a daemon thread,
    until the block ends; yields its URL once it accepts connections."""
    import uvicorn

    from wslocal.stack import free_port

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise OSError(f"uvicorn did not start on {HOST}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
