"""A fan-out worker double: a Lambda handler following the worker's interface, deployed by
`make bench-fanout` and the fan-out tests until the real worker (`ws_bridge.fanout`) is
measured instead. Standard library only: it runs in the gateway's workers from its own zip.

Interface (as the real worker's): an SQS event in; each record's body a JSON document
`{"data": "<message>", "connectionIds": ["...", ...]}`; returns `{"batchItemFailures":
[{"itemIdentifier": messageId}, ...]}` naming the records not wholly delivered. Each
connection gets one `POST <@connections>/<id>` (the base URL from
`AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`), `POST_CONCURRENCY` at once over kept-alive
connections; a 429 or a connection error is retried (`POST_ATTEMPTS` times in all, with a
short backoff); a 410 removes the connection's subscription record (`DELETE
<base>/../_subscriptions/<id>` on the stub endpoint, which keeps the records).

For crash tests: a body with `"crashAfter": k` kills the worker process (`os._exit`) after
its first k posts, on the record's first receive only.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

POST_CONCURRENCY = int(os.environ.get("POST_CONCURRENCY", "16"))
POST_ATTEMPTS = int(os.environ.get("POST_ATTEMPTS", "5"))
_BACKOFF_SECONDS = 0.01

_pool = ThreadPoolExecutor(max_workers=POST_CONCURRENCY)
_local = threading.local()


def _endpoint() -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"])


def _request(method: str, path: str, body: bytes = b"") -> int:
    """One request over this thread's kept-alive connection; 0 for a connection error."""
    endpoint = _endpoint()
    for _ in range(2):  # a kept-alive connection the server closed: once more on a new one
        connection = getattr(_local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(endpoint.netloc, timeout=5)
            _local.connection = connection
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            response.read()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            connection.close()
            _local.connection = None
    return 0


def _post(connection_id: str, data: bytes) -> bool:
    """Deliver to one connection: True when delivered, or gone (its record removed)."""
    base = _endpoint().path.rstrip("/")
    for attempt in range(POST_ATTEMPTS):
        status = _request("POST", f"{base}/@connections/{connection_id}", data)
        if status == 200:
            return True
        if status == 410:
            _request("DELETE", f"/_subscriptions/{connection_id}")
            return True
        time.sleep(_BACKOFF_SECONDS * (2**attempt))
    return False


def _deliver(body: dict[str, Any], first_receive: bool) -> bool:
    data = str(body.get("data", "")).encode()
    ids = [str(i) for i in body.get("connectionIds") or []]
    crash_after = body.get("crashAfter") if first_receive else None
    if isinstance(crash_after, int):
        for connection_id in ids[:crash_after]:
            _post(connection_id, data)
        os._exit(1)
    return all(_pool.map(lambda connection_id: _post(connection_id, data), ids))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        first = record.get("attributes", {}).get("ApproximateReceiveCount") == "1"
        if not _deliver(json.loads(record["body"]), first):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
