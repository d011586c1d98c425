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
from itertools import accumulate
from operator import sub
from typing import Any

__all__ = [
    "MAX_JSON_DEPTH",
    "decode_to_encode",
    "encode",
    "encode_json",
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
_encode = _ENCODER.encode
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_LENIENT_NUMBERS = json.JSONDecoder(parse_constant=_reject_constant)


def encode(value: Any) -> str:
    """Compact strict JSON text; ``ValueError`` for NaN/Infinity."""
    return _encode(value)


def encode_json(value: Any) -> bytes:
    """Strict JSON in UTF-8: ``ValueError`` for NaN/Infinity or a lone surrogate."""
    return _encode(value).encode("utf-8")


# ---------------------------------------------------------------------------- screening
#
# Nesting, measured on the decoded value, costs a walk over every container (at 128 KB,
# more than a parse). Instead the raw UTF-8 text is screened with a few C-speed passes
# (bytes.translate/replace/count, ``in``), each linear in its size. Every structural
# character of JSON is ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII, so the
# byte view is exact.

_SMALL = 4096  # below this, counting the brackets first is worth it
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


# What may follow a backslash in JSON, kept with the structure: every escape keeps its
# second character next to its backslash, so escapes read the same in the skeleton.
_NOT_STRUCTURE_OR_ESCAPE = bytes(c for c in range(256) if c not in b'[]{}"\\/bfnrtu')


def _without_escaped_quotes(raw: bytes) -> bytes:
    """The brackets and quotes of valid JSON ``raw`` (with some letters and backslashes),
    escaped quotes removed: every quote left opens or closes a string.

    Linear and cheap for escape-heavy text: one deleting translate shrinks the text to its
    structure and escapes, and the replaces run on that. With no backslash right before an
    escaped backslash's partner and a quote (no ``\\\\"``), each backslash before a quote
    starts an escape (the character before it is not a backslash), so removing ``\\"``
    removes exactly the escaped quotes; otherwise escaped backslashes go first, as the
    decoder reads them, left to right."""
    skeleton = raw.translate(None, _NOT_STRUCTURE_OR_ESCAPE)
    if b'\\\\"' in skeleton:
        skeleton = skeleton.replace(b"\\\\", b"")
    return skeleton.replace(b'\\"', b"")


# In valid JSON each closing bracket matches its opening one, so nesting can be measured on
# one kind of bracket: "{}" read as "[]".
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_RUNS = re.compile(rb"\[+|\]+")
# A pass that removes the innermost pairs costs about 4 ns per byte of the structure; the
# runs' prefix sums about 300 ns per innermost pair (two runs) and 2 ns per byte. The sums
# take over once the structure holds fewer than one innermost pair per this many bytes (long
# runs: deep nesting), about where the two cost the same on 128 KB of nested arrays.
_BYTES_PER_PAIR_FOR_SUMS = 16


def _deepest(structure: bytes) -> int:
    """The nesting depth of a balanced, non-empty run of ``[`` and ``]``: the largest
    prefix sum (+1 per opening, -1 per closing), taken at the end of each run of openings."""
    runs = list(map(len, _RUNS.findall(structure)))  # opening, closing, opening, ...
    deepest: int = max(map(sub, accumulate(runs[0::2]), accumulate(runs[1::2], initial=0)))
    return deepest


def _within_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when valid JSON ``raw`` nests containers at most ``limit`` deep, measured on its
    brackets outside strings: passes that each remove the innermost pairs while those are
    many, then the prefix sums of what is left (each pass took exactly one level off the
    depth). Linear either way, cheap for flat and for deep text alike: a pass for each of
    64 levels would cost 3.5 parses on 128 KB of deep nesting."""
    if b"\\" in raw:
        raw = _without_escaped_quotes(raw)
    quoted = raw.translate(None, _NOT_STRUCTURE)
    # Strings without brackets are adjacent quotes here; if none is left over, every string
    # was one of them (a string with brackets leaves its opening quote: the first quote
    # always opens a string, and replace() pairs quotes from the left).
    structure = quoted.replace(b'""', b"")
    if b'"' in structure:  # what lies between quotes is string content: drop it
        structure = b"".join(quoted.split(b'"')[::2])
    structure = structure.translate(_ONE_KIND)
    pairs = structure.count(b"[]")  # innermost pairs
    passes = 0
    while structure:
        if pairs * _BYTES_PER_PAIR_FOR_SUMS < len(structure):
            return passes + _deepest(structure) <= limit
        if passes == limit:
            return False
        inner = structure.replace(b"[]", b"")
        if len(inner) == len(structure):
            return False  # unbalanced: not valid JSON (never reached after a decode)
        structure = inner
        pairs = structure.count(b"[]")
        passes += 1
    return True


def decode_to_encode(text: str, raw: bytes | None = None) -> Any:
    """The value of strict JSON ``text``, for a caller that encodes it with
    :func:`encode_json` before it uses it (the handler's forwarded body); ``ValueError``
    otherwise (also for integers beyond Python's 4300 digits and for nesting deep enough to
    exhaust the recursion limit). Every check but one is made here: the lone surrogate escape
    (``"\\ud800"``) is left to that encode, which refuses it exactly, so it costs nothing
    extra. ``raw``: ``text.encode("utf-8")``, when the caller has it at hand (then trusted as
    such: the nesting screen reads it, and the encode that refuses a raw lone surrogate is
    skipped).

    Linear in the size of ``text``: a decode by the C scanner (NaN/Infinity refused by its
    constant hook, every float checked by its float hook: cheaper than screening the text
    for large exponents, and free for text without floats) and the nesting screen above."""
    if raw is None:
        raw = text.encode("utf-8")  # UnicodeEncodeError (a ValueError): a raw lone surrogate
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    # Every level opens with a bracket: with few brackets, no need to look further.
    if (len(raw) > _SMALL or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH) and not (
        _within_depth(raw)
    ):
        raise ValueError("nested too deeply")
    return value


def is_json(text: str) -> bool:
    """True for any JSON text without NaN/Infinity (a backend's reply, passed on as is)."""
    try:
        _LENIENT_NUMBERS.decode(text)
    except (ValueError, RecursionError):
        return False
    return True
