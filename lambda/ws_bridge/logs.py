"""Structured JSON log lines.

Every line carries the invocation's ``connectionId``, ``requestId`` and ``routeKey`` once
:func:`bind` has set them, and inside :func:`invocation` Lambda's ``aws_request_id`` and
``cold_start`` (true on the container's first invocation only). Callers pass only
identifiers, statuses and error codes in ``extra``: never a token, a secret or a message body.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import traceback
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["JsonFormatter", "bind", "configure", "get_logger", "invocation"]

LOGGER_NAME = "ws_bridge"

_context: contextvars.ContextVar[Mapping[str, str | bool] | None] = contextvars.ContextVar(
    "ws_bridge_log_context", default=None
)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


# ASCII only: client-supplied values (a session id from the query string) may hold U+2028,
# U+0085 and the like, which some log tools take for line breaks. Built once: json.dumps
# with options builds an encoder per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=True)
_encode = _ENCODER.encode

_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    return _iso(int(record.created), int(record.msecs))


def _iso(whole: int, msecs: int) -> str:
    """ISO 8601 UTC with milliseconds; the part down to the second is formatted once per
    second (strftime is most of a line's cost otherwise)."""
    global _second
    cached_second, text = _second
    if whole != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{msecs:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_context.get() or {})
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and where it came from; exception messages can quote
            # input (a token, a body), so they stay out of the line.
            line["exception"] = record.exc_info[0].__name__
            line["traceback"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])
            ]
        return _encode(line)


class _StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda sends stdout to CloudWatch)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)


def configure(level: int) -> logging.Logger:
    """Set up the package logger once per container; later calls only change the level."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    # The Lambda runtime installs its own handler on the root logger: keep lines single.
    logger.propagate = False
    logger.setLevel(level)
    return logger


def _no_caller(stack_info: bool = False, stacklevel: int = 1) -> tuple[str, int, str, str | None]:
    return "(unknown file)", 0, "(unknown function)", None


def get_logger(name: str) -> logging.Logger:
    """A package logger. Its lines carry no source file or line (the JSON line has no
    field for them), so it skips logging's walk up the stack to find its caller: a good
    part of the cost of each line on the per-message path."""
    logger = logging.getLogger(f"{LOGGER_NAME}.{name}")
    logger.findCaller = _no_caller  # type: ignore[method-assign]
    return logger


class _Bound:
    """The context manager :func:`bind` returns: one contextvar set on entry, one reset on
    exit (a generator-based context manager cost more than the rest of a ping)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, fields: Mapping[str, str | bool]) -> None:
        self._fields = fields
        self._token: contextvars.Token[Mapping[str, str | bool] | None] | None = None

    def __enter__(self) -> None:
        outer = _context.get()
        self._token = _context.set({**outer, **self._fields} if outer else self._fields)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _context.reset(self._token)
            self._token = None


def bind(**fields: str | bool | None) -> AbstractContextManager[None]:
    """Attach identifiers (connectionId, requestId, routeKey…) to every line logged inside;
    None and "" are left out."""
    return _Bound(
        {key: value for key, value in fields.items() if value is not None and value != ""}
    )


_cold_start = True


def invocation(context: Any, **fields: str | None) -> AbstractContextManager[None]:
    """Bind one Lambda invocation: ``aws_request_id`` from the context object (when it has
    one), ``cold_start`` (true once per container, for its first invocation) and ``fields``."""
    global _cold_start
    cold, _cold_start = _cold_start, False
    request_id = getattr(context, "aws_request_id", None)
    values: dict[str, str | bool] = {"cold_start": cold}
    if isinstance(request_id, str) and request_id:
        values["aws_request_id"] = request_id
    for key, value in fields.items():
        if value:  # None and "" are left out, as in bind()
            values[key] = value
    return _Bound(values)
