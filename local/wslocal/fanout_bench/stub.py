"""A stand-in `@connections` endpoint for fan-out runs: answers each post after a fixed
latency, as API Gateway would, and counts what it delivered.

`POST /<stage>/@connections/<id>` answers 200 and counts a delivery, except for a gone
connection (410, as for a client that left) and for the first `throttled_attempts` posts to
each connection in `throttled` (429, as API Gateway's throttling). `DELETE
/_subscriptions/<id>` removes a subscription record (the worker double keeps its records
here: a fan-out worker removes the record of a connection answered 410). Only what a
fan-out needs; no signature is checked. It listens on 127.0.0.1 (`wslocal.http_server`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wslocal.http_server import LocalServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["StubConnections"]

_PREFIX = "/@connections/"
_RECORDS = "/_subscriptions/"


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
        records: Iterable[str] = (),
    ) -> None:
        self.latency = latency
        self.gone = frozenset(gone)
        self.throttled = frozenset(throttled)
        self.throttled_attempts = throttled_attempts
        self.records = set(records)  # the subscription records still held
        self.delivered: Counter[str] = Counter()
        self.gone_posts = 0
        self.throttled_posts = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._server = LocalServer(self._app, name="stub-connections")

    @property
    def url(self) -> str:
        return self._server.url

    def endpoint(self, stage: str) -> str:
        return f"{self.url}/{stage}"

    @property
    def deliveries(self) -> int:
        with self._lock:
            return sum(self.delivered.values())

    def wait_for(self, deliveries: int, timeout: float) -> bool:
        """Wait until `deliveries` posts were answered 200; False at the timeout."""
        with self._done:
            return self._done.wait_for(
                lambda: sum(self.delivered.values()) >= deliveries, timeout=timeout
            )

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
            self._done.notify_all()
        return 200

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if request.method == "POST" and _PREFIX in path:
            request.get_data()  # the message, read whole as API Gateway does
            status = self._post(path.split(_PREFIX, 1)[1])
            body = {200: b"", 410: b'{"message":"Gone"}', 429: b'{"message":"Too Many Requests"}'}
            response = Response(body[status], status=status, content_type="application/json")
        elif request.method == "DELETE" and path.startswith(_RECORDS):
            with self._lock:
                self.records.discard(path.removeprefix(_RECORDS))
            response = Response(status=204)
        else:
            response = Response(status=404)
        return response(environ, start_response)

    def start(self) -> StubConnections:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> StubConnections:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
