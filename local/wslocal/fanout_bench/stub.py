"""A stand-in `@connections` endpoint for fan-out runs: answers each post after a fixed
latency, as API Gateway would, and counts what it delivered.

`POST /<stage>/@connections/<id>` answers 200 and counts a delivery, except for a gone
connection (410, as for a client that left) and for the first `throttled_attempts` posts to
each connection in `throttled` (429, as API Gateway's throttling). Only what a fan-out
needs; no signature is checked. It listens on 127.0.0.1 only.

It is served by `wslocal.stub_server` (one asyncio loop, kept-alive connections): the
standard library's threaded `http.server` cost ten times the CPU a request and, under the
128 connections of four workers, answered some posts after the worker's 2 s read timeout,
so the worker sent them again and the run counted them twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from wslocal.stub_server import StubServer

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
        self._server = StubServer(self._respond, delay=latency, name="stub-connections")

    @property
    def url(self) -> str:
        return self._server.url

    def endpoint(self, stage: str) -> str:
        return f"{self.url}/{stage}"

    @property
    def deliveries(self) -> int:
        with self._lock:
            return self._total

    def wait_for(self, connections: int, timeout: float) -> bool:
        """Wait until `connections` distinct connections got a post (answered 200), however
        many were posted to twice; False at the timeout."""
        with self._done:
            return self._done.wait_for(lambda: len(self.delivered) >= connections, timeout=timeout)

    def _post(self, connection_id: str) -> int:
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
        """The status of one request, ``latency`` after it was read."""
        if method == "POST" and _PREFIX in path:
            return self._post(path.split(_PREFIX, 1)[1])
        return 404

    def _respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        status = self.answer(method, path)
        return status, _BODIES.get(status, b"")

    def start(self) -> StubConnections:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> StubConnections:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_BODIES = {410: b'{"message":"Gone"}', 429: b'{"message":"Too Many Requests"}'}
