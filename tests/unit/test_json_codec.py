"""Strict JSON decoding: the cheap screens must refuse exactly what the exact checks refuse."""

from __future__ import annotations

import json

import pytest

from ws_bridge import json_codec
from ws_bridge.json_codec import MAX_JSON_DEPTH


def refused(text: str) -> bool:
    try:
        json_codec.decode(text)
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
    assert json_codec.decode(text) == json.loads(text)


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
    assert json_codec.decode(text) == json.loads(text)


@pytest.mark.parametrize("inner", ["[", '{"k":'])
@pytest.mark.parametrize("outer", ["[", '{"k":'])
def test_depth_is_exact_for_mixed_containers(outer: str, inner: str) -> None:
    def build(depth: int) -> str:
        kinds = [outer if level % 2 == 0 else inner for level in range(depth)]
        text = "0"
        for kind in reversed(kinds):
            text = kind + text + ("]" if kind == "[" else "}")
        return text

    assert json_codec.decode(build(MAX_JSON_DEPTH)) == json.loads(build(MAX_JSON_DEPTH))
    assert refused(build(MAX_JSON_DEPTH + 1))


def test_brackets_and_quotes_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"s": "' + "[{" * 200 + '\\"\\\\", "t": "]]}}", "a": [[1]]}'
    assert json_codec.decode(text) == json.loads(text)
    deep = '{"s": "]]]]}}}}", "a": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    assert refused(deep)
