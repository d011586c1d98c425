"""CloudWatch metrics as Embedded Metric Format (EMF) lines: JSON on stdout, which Lambda
sends to CloudWatch Logs, where CloudWatch extracts the metrics. No API call, no client.

At most one line per invocation: :func:`invocation` opens a record, :func:`count` and
:func:`milliseconds` add to it, and the line is written when the invocation ends (nothing
when nothing was recorded). Namespace ``METRICS_NAMESPACE``; every metric has the dimension
``Service`` (``METRICS_SERVICE``); ``ConnectionsRefused`` also per ``Reason`` and
``BackendErrors`` also per ``Code``:

ConnectionsAccepted, ConnectionsRefused, MessagesForwarded, TokensExpired, BackendErrors
(Count) and BackendLatency (Milliseconds); the fan-out worker's FanoutSent, FanoutGone,
FanoutRequeued, FanoutDropped, FanoutFailedMessages (Count), and the gauge's OpenConnections
(Count: the connections open when it ran).
"""

from __future__ import annotations

import contextvars
import json
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["DEFAULT_NAMESPACE", "add", "count", "invocation", "milliseconds"]

DEFAULT_NAMESPACE = "WebSocketBridge"
DEFAULT_SERVICE = "ws-bridge"

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_encode = _ENCODER.encode


class _Record:
    """One invocation's metrics. A plain class: a dataclass is built when the module is
    imported, several milliseconds of every cold start (docs/performance.md)."""

    __slots__ = ("code", "counts", "milliseconds", "namespace", "reason", "service")

    def __init__(self, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service
        self.counts: dict[str, float] = {}
        self.milliseconds: dict[str, float] = {}
        self.reason: str | None = None
        self.code: str | None = None


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


def add(name: str, amount: float) -> None:
    """Add ``amount`` to a Count metric of the current invocation (nothing outside one)."""
    record = _current.get()
    if record is not None:
        record.counts[name] = record.counts.get(name, 0) + amount


def milliseconds(name: str, value: float) -> None:
    """Record a Milliseconds metric (the last value of the invocation wins)."""
    record = _current.get()
    if record is not None:
        record.milliseconds[name] = float(value)


def _directives(record: _Record, by_reason: bool, by_code: bool) -> list[dict[str, Any]]:
    names = [{"Name": name, "Unit": "Count"} for name in record.counts]
    names += [{"Name": name, "Unit": "Milliseconds"} for name in record.milliseconds]
    directives: list[dict[str, Any]] = [
        {"Namespace": record.namespace, "Dimensions": [["Service"]], "Metrics": names}
    ]
    if by_reason:
        directives.append(
            {
                "Namespace": record.namespace,
                "Dimensions": [["Service", "Reason"]],
                "Metrics": [{"Name": "ConnectionsRefused", "Unit": "Count"}],
            }
        )
    if by_code:
        directives.append(
            {
                "Namespace": record.namespace,
                "Dimensions": [["Service", "Code"]],
                "Metrics": [{"Name": "BackendErrors", "Unit": "Count"}],
            }
        )
    return directives


# The encoded CloudWatchMetrics part per set of metric names: a handful per container (the
# names are this module's constants), so each is built and encoded once, not on every line.
_ENCODED_DIRECTIVES: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool, bool], str] = {}
_MAX_ENCODED_DIRECTIVES = 64


def _line(record: _Record) -> str:
    by_reason = record.reason is not None and "ConnectionsRefused" in record.counts
    by_code = record.code is not None and "BackendErrors" in record.counts
    key = (record.namespace, tuple(record.counts), tuple(record.milliseconds), by_reason, by_code)
    directives = _ENCODED_DIRECTIVES.get(key)
    if directives is None:
        directives = _ENCODER.encode(_directives(record, by_reason, by_code))
        if len(_ENCODED_DIRECTIVES) < _MAX_ENCODED_DIRECTIVES:
            _ENCODED_DIRECTIVES[key] = directives
    root: dict[str, Any] = {"Service": record.service}
    if by_reason:
        root["Reason"] = record.reason
    if by_code:
        root["Code"] = record.code
    root.update(record.counts)
    root.update(record.milliseconds)
    values = _encode(root)  # "{...}": never empty, Service is always there
    timestamp = int(time.time() * 1000)
    return f'{values[:-1]},"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":{directives}}}}}'


class _Invocation:
    """The context manager :func:`invocation` returns (a generator-based one cost a good
    part of a short invocation's own work)."""

    __slots__ = ("_record", "_token")

    def __init__(self, namespace: str, service: str) -> None:
        self._record = _Record(namespace, service)
        self._token: contextvars.Token[_Record | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._record)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        record = self._record
        if record.counts or record.milliseconds:
            try:
                sys.stdout.write(_line(record) + "\n")
                sys.stdout.flush()
            except Exception:  # noqa: BLE001, S110 - metrics must never break the answer
                pass


def invocation(namespace: str, service: str) -> AbstractContextManager[None]:
    """Collect the metrics of one invocation; write them as one EMF line at its end."""
    return _Invocation(namespace, service)
