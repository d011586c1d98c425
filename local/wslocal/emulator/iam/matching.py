"""String, ARN and policy-variable matching, as the IAM policy reference describes it.

- Action names match case-insensitively, with `*` and `?` wildcards
  (reference_policies_elements_action.html).
- `Resource`/`NotResource` and the `Arn*` condition operators compare an ARN segment by
  segment: the six colon-separated parts (`arn:partition:service:region:account:resource`,
  the resource part keeping any further colons) are matched separately, each with `*` and
  `?`, so a wildcard never spans a colon of the first five parts (reference-arns.html,
  reference_policies_elements_condition_operators.html#Conditions_ARN). A value that is not
  an ARN matches a pattern only when the pattern is `*` (for `Resource`) or the same
  non-ARN text.
- Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${aws:username,
  'default'}`, and `${*}`, `${?}`, `${$}` for the literal characters) are replaced in
  `Resource`, `NotResource` and condition values of policies whose `Version` is
  `2012-10-17` (reference_policies_variables.html). A variable whose key is absent (and has
  no default), or is multivalued, leaves the element unmatchable: that value matches
  nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

__all__ = [
    "POLICY_VERSION_WITH_VARIABLES",
    "ContextValue",
    "action_matches",
    "arn_segments",
    "lookup",
    "pattern_regex",
    "resource_matches",
    "segment_match",
    "substituted",
]

POLICY_VERSION_WITH_VARIABLES = "2012-10-17"
ContextValue = str | Sequence[str]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")


def lookup(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    """The value of condition key `key` in `context`; key names are case-insensitive."""
    if key in context:
        return context[key]
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def _pieces(
    template: str, context: Mapping[str, ContextValue] | None
) -> list[tuple[str, bool]] | None:
    """`template` as (text, literal) pieces: pattern text, and text from a variable (always
    literal). None when a variable cannot be resolved. `context` None: no substitution."""
    if context is None or "${" not in template:
        return [(template, False)]
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        pieces.append((template[position : match.start()], False))
        inner = match.group(1)
        if inner in _LITERAL_VARIABLES:
            pieces.append((_LITERAL_VARIABLES[inner], True))
        else:
            default = _DEFAULT.match(inner)
            key, fallback = (default.group(1), default.group(2)) if default else (inner, None)
            value = lookup(context, key.strip())
            if isinstance(value, str):
                pieces.append((value, True))
            elif value is None and fallback is not None:
                pieces.append((fallback, True))
            else:
                return None  # absent (no default) or multivalued
        position = match.end()
    pieces.append((template[position:], False))
    return pieces


@functools.lru_cache(maxsize=4096)
def _glob_regex(text: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)


def pattern_regex(
    template: str,
    context: Mapping[str, ContextValue] | None = None,
    *,
    wildcards: bool = True,
) -> str | None:
    """A regular expression (for `re.fullmatch`) of `template` after variable substitution;
    `*`/`?` are wildcards when `wildcards`, literal otherwise. None: unresolvable."""
    pieces = _pieces(template, context)
    if pieces is None:
        return None
    return "".join(
        re.escape(text) if literal or not wildcards else _glob_regex(text)
        for text, literal in pieces
    )


def substituted(template: str, context: Mapping[str, ContextValue] | None) -> str | None:
    """`template` with its variables replaced (no wildcards involved); None: unresolvable."""
    pieces = _pieces(template, context)
    return None if pieces is None else "".join(text for text, _ in pieces)


@functools.lru_cache(maxsize=8192)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def segment_match(
    pattern: str, value: str, context: Mapping[str, ContextValue] | None = None
) -> bool:
    """`value` against one glob `pattern` (with variables), case-sensitively."""
    regex = pattern_regex(pattern, context)
    return regex is not None and _compiled(regex, False).fullmatch(value) is not None


def action_matches(pattern: object, action: str) -> bool:
    """An `Action`/`NotAction` entry against `service:Operation`, case-insensitively."""
    if not isinstance(pattern, str):
        return False
    return _compiled(_glob_regex(pattern), True).fullmatch(action) is not None


def arn_segments(value: str) -> list[str] | None:
    """The six parts of an ARN (the sixth keeps its colons), or None if `value` is not one."""
    if not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return parts if len(parts) == 6 else None


def _arn_match(pattern: str, value: str, context: Mapping[str, ContextValue] | None) -> bool:
    wanted = arn_segments(pattern)
    actual = arn_segments(value)
    if wanted is None or actual is None:
        return False
    return all(segment_match(p, v, context) for p, v in zip(wanted, actual, strict=True))


def resource_matches(
    pattern: object, resource: str, context: Mapping[str, ContextValue] | None = None
) -> bool:
    """A `Resource`/`NotResource` entry (or an `Arn*` condition value) against `resource`."""
    if not isinstance(pattern, str):
        return False
    if pattern == "*":
        return True
    if arn_segments(pattern) is None:
        return (
            segment_match(pattern, resource, context) if arn_segments(resource) is None else False
        )
    return _arn_match(pattern, resource, context)
