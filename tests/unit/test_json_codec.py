"""Strict JSON decoding: what the handler does with a message (``decode_to_encode``, then
``encode_json`` of the forwarded body) refuses exactly what the exact definitions refuse: no
NaN/Infinity, no number beyond the double range, nesting within MAX_JSON_DEPTH measured on
the value, no lone surrogate in any string or key."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ws_bridge import json_codec
from ws_bridge.json_codec import MAX_JSON_DEPTH


def strict(text: str) -> object:
    """The handler's path: the screens of ``decode_to_encode``, then the encode of the
    forwarded body, which refuses a lone surrogate exactly."""
    value = json_codec.decode_to_encode(text)
    json_codec.encode_json(value)
    return value


def refused(text: str) -> bool:
    try:
        strict(text)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 1e309}',
        '{"n": 1E+400}',
        '{"n": -2.5e00999}',
        '{"n": ' + "1" + "0" * 309 + ".0}",
        '{"n": ' + "1" * 250 + "e99}",
        '{"n": NaN}',
        '{"n": -Infinity}',
    ],
)
def test_numbers_beyond_the_double_range_are_refused(text: str) -> None:
    assert refused(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 1e308, "m": 1.7976931348623157e308, "u": 1e-999}',
        '{"n": ' + "9" * 300 + "}",  # an integer: exact, within Python's digit limit
        '{"s": "e999 E+000 ' + "0" * 400 + '"}',  # looks like a number, but is a string
    ],
)
def test_numbers_within_range_and_lookalikes_in_strings_are_kept(text: str) -> None:
    assert strict(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"s": "\\ud800"}',
        '{"\\udfff": 1}',
        '{"s": "\\ud83d\\ude00 then \\uDC00"}',
        '["a", ["\\ud83d"]]',
        '{"s": "\\ud83d\\ud83d\\ude00"}',  # a high one, then a pair
        '{"s": "\\\\ud83d\\ude00"}',  # an escaped backslash, then a lone low one
        '{"s": "' + "\\ud83d\\ude00" * 500 + '\\udc00"}',
    ],
)
def test_lone_surrogates_are_refused_in_values_and_keys(text: str) -> None:
    assert refused(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"s": "\\ud83d\\ude00"}',
        '{"s": "\\\\ud800"}',
        '{"s": "\\u00e9\\\\"}',
        '{"s": "' + "\\uD83D\\uDE00 " * 500 + '"}',
    ],
)
def test_surrogate_pairs_and_escaped_backslashes_are_kept(text: str) -> None:
    assert strict(text) == json.loads(text)


@pytest.mark.parametrize("inner", ["[", '{"k":'])
@pytest.mark.parametrize("outer", ["[", '{"k":'])
def test_depth_is_exact_for_mixed_containers(outer: str, inner: str) -> None:
    def build(depth: int) -> str:
        kinds = [outer if level % 2 == 0 else inner for level in range(depth)]
        text = "0"
        for kind in reversed(kinds):
            text = kind + text + ("]" if kind == "[" else "}")
        return text

    assert strict(build(MAX_JSON_DEPTH)) == json.loads(build(MAX_JSON_DEPTH))
    assert refused(build(MAX_JSON_DEPTH + 1))


def test_brackets_and_quotes_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"s": "' + "[{" * 200 + '\\"\\\\", "t": "]]}}", "a": [[1]]}'
    assert strict(text) == json.loads(text)
    deep = '{"s": "]]]]}}}}", "a": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    assert refused(deep)


# ---------------------------------------------------------------------------- fast screens
#
# The nesting screen works on a shrunk skeleton of the text (structure and escapes only);
# these properties hold it and decode to the plain definitions (escapes read by a decode,
# depth and surrogates measured on the value) on every drawn text.

PIECES = st.sampled_from(
    [
        "a", " ", "[", "]", "{", "}", '\\"', "\\\\", "\\n", "\\u00e9", "\\ud83d", "\\ude00",
        "\\uD800", "\\uDC00", "\\ud7ff", "\\/", "\\b", "u", "d8", '"',
    ]
)  # fmt: skip
STRINGS = st.lists(PIECES, max_size=12).map("".join)


def string_literals() -> st.SearchStrategy[str]:
    """JSON string literals built from escape-heavy pieces (kept only when valid JSON)."""
    return STRINGS.map(lambda body: f'"{body}"').filter(_is_string_literal)


def _is_string_literal(text: str) -> bool:
    try:
        return isinstance(json.loads(text), str)
    except ValueError:
        return False


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


DOCUMENTS = st.recursive(
    string_literals() | st.just("1"),
    lambda children: (
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(string_literals(), children), max_size=3).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        )
    ),
    max_leaves=8,
)


@given(document=DOCUMENTS, depth=st.integers(0, 70))
def test_the_depth_screen_agrees_with_the_value_on_escape_heavy_text(
    document: str, depth: int
) -> None:
    text = "[" * depth + document + "]" * depth
    value = json.loads(text)
    raw = text.encode()
    for limit in (1, 2, 3, MAX_JSON_DEPTH):
        assert json_codec._within_depth(raw, limit) == (_depth(value) <= limit)


TREES = st.recursive(
    st.just("1") | st.just("[]") | st.just("{}"),
    lambda children: (
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(children, max_size=4).map(
            lambda items: "{" + ",".join(f'"k{i}":{v}' for i, v in enumerate(items)) + "}"
        )
    ),
    max_leaves=40,
)


@given(
    trees=st.lists(st.tuples(st.integers(0, 70), TREES), min_size=1, max_size=6),
    limit=st.integers(1, 70),
)
def test_the_depth_screen_is_exact_on_any_mix_of_flat_and_deep_parts(
    trees: list[tuple[int, str]], limit: int
) -> None:
    """Passes while innermost pairs are dense, prefix sums once they are sparse: either way
    (and when a text switches from one to the other) the depth of the value."""
    text = "[" + ",".join("[" * depth + tree + "]" * depth for depth, tree in trees) + "]"
    value = json.loads(text)
    assert json_codec._within_depth(text.encode(), limit) == (_depth(value) <= limit)


@pytest.mark.parametrize("depth", [1, 2, 8, 9, 17, 63, 64, 65])
def test_the_depth_screen_is_exact_on_chains_in_bulk(depth: int) -> None:
    chain = "[" * depth + "1" + "]" * depth
    text = "[" + ",".join([chain] * 200) + "]"
    assert json_codec._within_depth(text.encode()) == (depth + 1 <= MAX_JSON_DEPTH)


def _has_lone_surrogate(value: object) -> bool:
    """The exact definition: some string or key of the value has no UTF-8 form."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(map(_has_lone_surrogate, value)) or any(map(_has_lone_surrogate, value.values()))
    if isinstance(value, list):
        return any(map(_has_lone_surrogate, value))
    return False


@given(document=DOCUMENTS)
def test_every_lone_surrogate_is_refused_and_nothing_else(document: str) -> None:
    value = json.loads(document)
    if _has_lone_surrogate(value):
        assert refused(document)
    else:
        assert not refused(document) or _depth(value) > MAX_JSON_DEPTH


@given(document=DOCUMENTS, depth=st.integers(0, 2))
def test_decode_to_encode_leaves_exactly_the_lone_surrogates_to_the_encode(
    document: str, depth: int
) -> None:
    """decode_to_encode refuses every fault but the lone surrogate, which it leaves to the
    encode_json the handler makes of the forwarded body."""
    text = "[" * depth + document + "]" * depth
    value = json_codec.decode_to_encode(text, text.encode())  # DOCUMENTS nest at most 5 deep
    if _has_lone_surrogate(json.loads(text)):
        with pytest.raises(ValueError, match="surrogate"):
            json_codec.encode_json(value)
    else:
        assert json.loads(json_codec.encode_json(value)) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    ['{"n": NaN}', '{"n": 1e999}', "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
     '{"a": 1', '{"s": "\ud800"}'],  # the last: a raw lone surrogate
)  # fmt: skip
def test_decode_to_encode_refuses_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"not JSON|out of range|too deeply|Expecting|surrogate"):
        json_codec.decode_to_encode(text)


def test_decode_to_encode_reads_lone_surrogates_that_encode_then_refuses() -> None:
    value = json_codec.decode_to_encode('{"s": "\\ud800", "\\udc00": 1}')
    assert value == {"s": "\ud800", "\udc00": 1}
    with pytest.raises(ValueError, match="surrogate"):
        json_codec.encode_json(value)


@given(body=STRINGS)
def test_the_escaped_quote_skeleton_keeps_only_real_quotes(body: str) -> None:
    text = f'["{body}"]'
    if not _is_string_literal(f'"{body}"'):
        return
    skeleton = json_codec._without_escaped_quotes(text.encode())
    assert skeleton.count(b'"') == 2  # the string's own quotes, every escaped one gone


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
