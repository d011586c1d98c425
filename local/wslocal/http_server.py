"""The one small HTTP server of the local stack's own servers (the reference backend, the
JWKS issuer, the browser demo page, the benchmarks' backends).

A server here is a WSGI application (werkzeug's request/response objects, or any WSGI
callable) served by werkzeug's threaded development server on 127.0.0.1 only. HTTP parsing
is werkzeug's: nothing here reads a request line or a header by hand.

    server = LocalServer(app, port=0, name="reference-backend", browser_facing=True)
    server.start()          # in a daemon thread; or server.serve() in the foreground
    print(server.url)       # http://127.0.0.1:<bound port>
    server.stop()

ASGI applications (Starlette, the example app) run under uvicorn instead:
:func:`serve_asgi` holds one up on 127.0.0.1 for the length of a ``with`` block.

``browser_facing=True`` adds :func:`host_guard`: a server a browser can reach refuses any
``Host`` header other than its own address (``127.0.0.1:<port>``, ``localhost:<port>``,
``[::1]:<port>``), so a web page on another name that resolves to 127.0.0.1 (DNS rebinding)
cannot read from it or drive it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["HOST", "LocalServer", "host_guard", "local_hosts", "serve_asgi"]

HOST = "127.0.0.1"
# werkzeug logs every request at INFO on this logger; the servers log what they choose.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its per-request access line and with a server name of
    our own (the default names the werkzeug and Python versions)."""

    server_version = "wslocal"
    sys_version = ""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


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


class LocalServer:
    """A WSGI application on ``127.0.0.1:port`` (0: a free port), one thread per request."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        port: int = 0,
        name: str = "server",
        browser_facing: bool = False,
        request_handler: type[WSGIRequestHandler] = _QuietHandler,
    ) -> None:
        self.name = name
        served = host_guard(app, lambda: local_hosts(self.port)) if browser_facing else app
        try:
            self._server: BaseWSGIServer = make_server(
                HOST, port, served, threaded=True, request_handler=request_handler
            )
        except SystemExit:  # werkzeug exits instead of raising when the port is taken
            raise OSError(f"{name}: cannot listen on {HOST}:{port}") from None
        # ThreadedWSGIServer (threaded=True) is a ThreadingMixIn: no request thread may
        # keep the process alive.
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

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
