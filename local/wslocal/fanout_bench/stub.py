"""A stand-in `@connections` endpoint for fan-out runs: answers each post after a fixed
latency, as API Gateway would, and counts what it delivered.

`POST /<stage>/@connections/<id>` answers 200 and counts a delivery, except for a gone
connection (410, as for a client that left) and for the first `throttled_attempts` posts to
each connection in `throttled` (429, as API Gateway's throttling). Only what a fan-out
needs; no signature is checked. It listens on 127.0.0.1 only.

It is served by the standard library's threaded `http.server` (HTTP/1.1, kept-alive
connections), not by `wslocal.http_server`'s werkzeug: measured on 3,000 posts, werkzeug
spent twice the CPU per request, and a run of 20,000 posts is mostly requests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["StubConnections"]

_PREFIX = "/@connections/"


class StubConnections:
    """`with StubConnections(latency=0.01) as stub:` serves at `stub.url`; the worker's
    `@connections` base URL is `stub.endpoint(stage)`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        gone: Iterable[str] = (),
        throttled: Iterable[str] = (),
        throttled_attempts: int = 1,
        on_delivery: tuple[int, Callable[[], None]] | None = None,
    ) -> None:
        self.latency = latency
        self.gone = frozenset(gone)
        self.throttled = frozenset(throttled)
        self.throttled_attempts = throttled_attempts
        # (n, callback): callback runs, in a thread of its own, at the n-th delivery.
        self._on_delivery = on_delivery
        self.delivered: Counter[str] = Counter()
        self._total = 0  # sum(delivered.values()), kept as it grows
        self.gone_posts = 0
        self.throttled_posts = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def endpoint(self, stage: str) -> str:
        return f"{self.url}/{stage}"

    @property
    def deliveries(self) -> int:
        with self._lock:
            return self._total

    def wait_for(self, deliveries: int, timeout: float) -> bool:
        """Wait until `deliveries` posts were answered 200; False at the timeout."""
        with self._done:
            return self._done.wait_for(lambda: self._total >= deliveries, timeout=timeout)

    def _post(self, connection_id: str) -> int:
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self._attempts[connection_id] += 1
            if connection_id in self.gone:
                self.gone_posts += 1
                return 410
            if (
                connection_id in self.throttled
                and self._attempts[connection_id] <= self.throttled_attempts
            ):
                self.throttled_posts += 1
                return 429
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            self.delivered[connection_id] += 1
            self._total += 1
            total = self._total
            self._done.notify_all()
        if self._on_delivery and total == self._on_delivery[0]:
            threading.Thread(target=self._on_delivery[1], daemon=True).start()
        return 200

    def answer(self, method: str, path: str) -> int:
        """The status of one request (its body already read)."""
        if method == "POST" and _PREFIX in path:
            return self._post(path.split(_PREFIX, 1)[1])
        return 404

    def start(self) -> StubConnections:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> StubConnections:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    # Workers open dozens of connections at once (32 posts in flight each); the default
    # backlog of 5 refused some, which the worker took for network errors.
    request_queue_size = 512


_BODIES = {410: b'{"message":"Gone"}', 429: b'{"message":"Too Many Requests"}'}


def _handler_for(stub: StubConnections) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the workers' pooled connections

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)  # the message, read whole as API Gateway does
            status = stub.answer(self.command, self.path)
            body = _BODIES.get(status, b"")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Silent: a run makes tens of thousands of requests."""

    return Handler
