"""Strict JSON in UTF-8, both ways, with one encoder and two decoders built per container.

Strict means what every JSON peer reads alike: no ``NaN``/``Infinity`` (``json`` writes and
reads them by default), no number beyond the double range (``1e999`` would read as inf), no
lone surrogate (``\\ud800`` decodes to a string with no UTF-8 form), nesting within
:data:`MAX_JSON_DEPTH`. ``ValueError`` for anything else.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "MAX_JSON_DEPTH",
    "decode",
    "encode",
    "encode_json",
    "interchangeable",
    "is_json",
]

MAX_JSON_DEPTH = 64


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number beyond the double range (``1e999``) reads as inf, which has no JSON
    form (``json.dumps`` would write ``Infinity``): refuse it like ``Infinity`` itself."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:32]} is out of range")
    return value


# Built once: json.dumps/json.loads with any option build a new encoder/decoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_LENIENT_NUMBERS = json.JSONDecoder(parse_constant=_reject_constant)


def encode(value: Any) -> str:
    """Compact strict JSON text; ``ValueError`` for NaN/Infinity."""
    return _ENCODER.encode(value)


def encode_json(value: Any) -> bytes:
    """Strict JSON in UTF-8: ``ValueError`` for NaN/Infinity or a lone surrogate."""
    return _ENCODER.encode(value).encode("utf-8")


def _is_text(value: str) -> bool:
    """False for a string holding a lone surrogate: it has no UTF-8 form."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def interchangeable(value: Any) -> bool:
    """Nesting within MAX_JSON_DEPTH and every string (keys too) valid text, so the value
    re-encodes as strict UTF-8 JSON."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return False
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return False
            if isinstance(item, dict) and not all(_is_text(key) for key in item):
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def decode(text: str) -> Any:
    """The value of strict JSON ``text``; ``ValueError`` otherwise (also for integers beyond
    Python's 4300 digits and for nesting deep enough to exhaust the recursion limit)."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not interchangeable(value):
        raise ValueError("nested too deeply or holds a lone surrogate")
    return value


def is_json(text: str) -> bool:
    """True for any JSON text without NaN/Infinity (a backend's reply, passed on as is)."""
    try:
        _LENIENT_NUMBERS.decode(text)
    except (ValueError, RecursionError):
        return False
    return True
