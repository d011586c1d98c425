"""A Lambda handler for the SQS poller's tests (tests/integration/test_sqs_poller.py, zipped
there). Each message body is a JSON document: `{"id": "...", ...}` with optional
instructions:

- `"sleep": s`: the invocation takes at least s seconds;
- `"fail": "once"` / `"always"`: named in `batchItemFailures` on the first receive / always;
- `"bad_answer": true`: on the first receive the answer names an unknown itemIdentifier;
- `"crash": true`: on the first receive the worker process dies before answering.

Each invocation that answers appends one JSON line to the file `EVENT_LOG` names: its
process id, start and end times, and per record the id, messageId, receive count, the
record's keys, eventSource, eventSourceARN and first receive time (ms). Standard library only.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    start = time.time()
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    first = [record["attributes"]["ApproximateReceiveCount"] == "1" for record in records]
    if any(b.get("crash") and f for b, f in zip(bodies, first, strict=True)):
        os._exit(1)
    time.sleep(max(float(b.get("sleep", 0)) for b in bodies))
    failed = [
        record["messageId"]
        for record, body, once in zip(records, bodies, first, strict=True)
        if body.get("fail") == "always" or (body.get("fail") == "once" and once)
    ]
    bad = any(b.get("bad_answer") and f for b, f in zip(bodies, first, strict=True))
    line = {
        "pid": os.getpid(),
        "start": start,
        "end": time.time(),
        "records": [
            {
                "id": body["id"],
                "messageId": record["messageId"],
                "receiveCount": int(record["attributes"]["ApproximateReceiveCount"]),
                "firstReceive": int(record["attributes"]["ApproximateFirstReceiveTimestamp"]),
                "keys": sorted(record),
                "eventSource": record["eventSource"],
                "eventSourceARN": record["eventSourceARN"],
            }
            for record, body in zip(records, bodies, strict=True)
        ],
    }
    fd = os.open(os.environ["EVENT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)
    if bad:
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
