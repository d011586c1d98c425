"""Strict JSON in UTF-8, both ways, with one encoder and two decoders built per container.

Strict means what every JSON peer reads alike: no ``NaN``/``Infinity`` (``json`` writes and
reads them by default), no number beyond the double range (``1e999`` would read as inf), no
lone surrogate (``\\ud800`` decodes to a string with no UTF-8 form), nesting within
:data:`MAX_JSON_DEPTH`. ``ValueError`` for anything else.
"""

from __future__ import annotations

import json
import math
import re
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
# Floats read by the C scanner itself: for text that cannot hold an out-of-range number.
_FAST_DECODER = _LENIENT_NUMBERS


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


# ---------------------------------------------------------------------------- screening
#
# The checks above, done on the decoded value, cost several parses at 128 KB (a Python call
# per number, a walk over every string). Instead the raw UTF-8 text is screened with a few
# C-speed passes (bytes.translate/replace/split, ``in``), each linear in its size, and only
# a message the screen cannot clear pays for an exact check. Every structural character of
# JSON is ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII, so the byte view is
# exact.

# Digits read as "0", "E" and "+" as "e": one search finds every exponent of 3+ digits.
_NUMBER_SHAPES = bytes.maketrans(b"123456789E+", b"000000000ee")
_SURROGATE_MARKS = (b"\\ud", b"\\uD")
_SMALL = 4096  # below this, counting the brackets first is worth it
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def _may_overflow(raw: bytes) -> bool:
    """False when no number in ``raw`` can read as inf (conservative: strings count too).
    A float beyond the double range needs an exponent of three digits or more, or (with an
    exponent of at most 99) an integer part of at least 309 - 99 digits."""
    shapes = raw.translate(_NUMBER_SHAPES)
    if b"0" * 210 in shapes:
        return True
    # Searched backwards: a needle ending in the rare "e" skips ahead; one ending in "0"
    # (as "e000" would) crawls through number-heavy text.
    return b"000e" in shapes[::-1]


def _within_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when valid JSON ``raw`` nests containers at most ``limit`` deep: the brackets
    outside strings, with each pass removing the innermost pairs (at most ``limit`` passes)."""
    if b"\\" in raw:  # escaped backslashes, then escaped quotes: neither ends a string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    quoted = raw.translate(None, _NOT_STRUCTURE)
    # Strings without brackets are adjacent quotes here; if none is left over, every string
    # was one of them (a string with brackets leaves its opening quote: the first quote
    # always opens a string, and replace() pairs quotes from the left).
    structure = quoted.replace(b'""', b"")
    if b'"' in structure:  # what lies between quotes is string content: drop it
        structure = b"".join(quoted.split(b'"')[::2])
    for _ in range(limit):
        if not structure:
            return True
        # The marker keeps "{[]}" from losing both levels in one pass.
        inner = structure.replace(b"[]", b"\0").replace(b"{}", b"").replace(b"\0", b"")
        if len(inner) == len(structure):
            return False  # unbalanced: not valid JSON (never reached after a decode)
        structure = inner
    return not structure


# With escaped backslashes removed, every backslash left starts an escape: a surrogate
# escape is lone unless it is half of one of these pairs (the decoder pairs them the same
# way, left to right).
_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone(raw: bytes) -> bool:
    """False when every surrogate escape in ``raw`` is half of a pair (linear: C regex)."""
    unpaired = _SURROGATE_PAIR.sub(b"", raw.replace(b"\\\\", b""))
    return _SURROGATE_ESCAPE.search(unpaired) is not None


def decode(text: str) -> Any:
    """The value of strict JSON ``text``; ``ValueError`` otherwise (also for integers beyond
    Python's 4300 digits and for nesting deep enough to exhaust the recursion limit).

    Linear in the size of ``text``: a decode by the C scanner (NaN/Infinity refused by its
    constant hook), then the screens above; the per-number hook and the encode that finds a
    lone surrogate run only for a message the screens flag.
    """
    raw = text.encode("utf-8")  # UnicodeEncodeError (a ValueError): a raw lone surrogate
    try:
        decoder = _DECODER if _may_overflow(raw) else _FAST_DECODER
        value = decoder.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    # Every level opens with a bracket: with few brackets, no need to look further.
    if (len(raw) > _SMALL or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH) and not (
        _within_depth(raw)
    ):
        raise ValueError("nested too deeply")
    if b"\\u" in raw and (_SURROGATE_MARKS[0] in raw or _SURROGATE_MARKS[1] in raw) and _lone(raw):
        # An escape that may be half of a surrogate pair: exact check, linear (C encoder).
        try:
            _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a lone surrogate") from None
    return value


def is_json(text: str) -> bool:
    """True for any JSON text without NaN/Infinity (a backend's reply, passed on as is)."""
    try:
        _LENIENT_NUMBERS.decode(text)
    except (ValueError, RecursionError):
        return False
    return True
