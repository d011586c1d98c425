"""CloudWatch metrics as Embedded Metric Format (EMF) lines: JSON on stdout, which Lambda
sends to CloudWatch Logs, where CloudWatch extracts the metrics. No API call, no client.

At most one line per invocation: :func:`invocation` opens a record, :func:`count` and
:func:`milliseconds` add to it, and the line is written when the invocation ends (nothing
when nothing was recorded). Namespace ``METRICS_NAMESPACE``; every metric has the dimension
``Service`` (``METRICS_SERVICE``); ``ConnectionsRefused`` also per ``Reason`` and
``BackendErrors`` also per ``Code``:

ConnectionsAccepted, ConnectionsRefused, MessagesForwarded, TokensExpired, BackendErrors
(Count) and BackendLatency (Milliseconds).
"""

from __future__ import annotations

import contextvars
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_NAMESPACE", "count", "invocation", "milliseconds"]

DEFAULT_NAMESPACE = "WebSocketBridge"
DEFAULT_SERVICE = "ws-bridge"

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


@dataclass(slots=True)
class _Record:
    namespace: str
    service: str
    counts: dict[str, float] = field(default_factory=dict)
    milliseconds: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    code: str | None = None


_current: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "ws_bridge_metrics", default=None
)


def count(name: str, *, reason: str | None = None, code: str | None = None) -> None:
    """Add 1 to a Count metric of the current invocation (nothing outside one)."""
    record = _current.get()
    if record is None:
        return
    record.counts[name] = record.counts.get(name, 0) + 1
    if reason is not None:
        record.reason = reason
    if code is not None:
        record.code = code


def milliseconds(name: str, value: float) -> None:
    """Record a Milliseconds metric (the last value of the invocation wins)."""
    record = _current.get()
    if record is not None:
        record.milliseconds[name] = float(value)


def _line(record: _Record) -> str:
    names = [{"Name": name, "Unit": "Count"} for name in record.counts]
    names += [{"Name": name, "Unit": "Milliseconds"} for name in record.milliseconds]
    directives: list[dict[str, Any]] = [
        {"Namespace": record.namespace, "Dimensions": [["Service"]], "Metrics": names}
    ]
    root: dict[str, Any] = {"Service": record.service}
    if record.reason is not None and "ConnectionsRefused" in record.counts:
        root["Reason"] = record.reason
        directives.append(
            {
                "Namespace": record.namespace,
                "Dimensions": [["Service", "Reason"]],
                "Metrics": [{"Name": "ConnectionsRefused", "Unit": "Count"}],
            }
        )
    if record.code is not None and "BackendErrors" in record.counts:
        root["Code"] = record.code
        directives.append(
            {
                "Namespace": record.namespace,
                "Dimensions": [["Service", "Code"]],
                "Metrics": [{"Name": "BackendErrors", "Unit": "Count"}],
            }
        )
    root.update(record.counts)
    root.update(record.milliseconds)
    root["_aws"] = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives}
    return _ENCODER.encode(root)


@contextmanager
def invocation(namespace: str, service: str) -> Iterator[None]:
    """Collect the metrics of one invocation; write them as one EMF line at its end."""
    record = _Record(namespace, service)
    token = _current.set(record)
    try:
        yield
    finally:
        _current.reset(token)
        if record.counts or record.milliseconds:
            try:
                sys.stdout.write(_line(record) + "\n")
                sys.stdout.flush()
            except Exception:  # noqa: BLE001, S110 - metrics must never break the answer
                pass
