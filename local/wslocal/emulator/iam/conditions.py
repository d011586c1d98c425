"""The `Condition` element, as reference_policies_elements_condition_operators.html and
reference_policies_condition-single-vs-multi-valued-context-keys.html describe it.

A condition block holds operators; each operator holds keys; each key one or more values.
The block holds when every operator holds; an operator when every key holds; a key when the
request's value matches any of the policy's values (for the negated operators: matches none
of them). Key names are case-insensitive.

- A key absent from the request fails the condition, except: `...IfExists` operators hold
  when the key is absent; negated operators (`StringNotEquals`, `StringNotLike`,
  `ArnNotEquals`, `ArnNotLike`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`, and the
  ignore-case variant) hold when it is absent; `Null` tests exactly presence.
- `ForAnyValue:` holds when at least one of the request's values satisfies the operator
  (false when the key is absent or empty); `ForAllValues:` when every one does (true when
  the key is absent or empty). A single value counts as a set of one. A multivalued key
  (`aws:TagKeys`, `dynamodb:LeadingKeys`, `kms:EncryptionContextKeys`...) under an operator
  without a set prefix matches nothing.
- The operator families: String (case-sensitive; `IgnoreCase`; `Like` with `*` and `?`),
  Numeric, Date (ISO 8601 or epoch seconds), Bool, Binary (base64), IpAddress/NotIpAddress
  (CIDR, IPv4 and IPv6), Arn (segment by segment, both `ArnEquals` and `ArnLike` with
  wildcards), Null. A value of the wrong type for its operator matches nothing.
- An operator outside that set raises PolicyError: AWS refuses such a policy when it is
  written, so the emulator refuses to guess.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from wslocal.emulator.iam.matching import (
    ContextValue,
    arn_segments,
    lookup,
    resource_matches,
    segment_match,
    substituted,
)

__all__ = ["OPERATORS", "PolicyError", "condition_block_holds", "policy_values"]


class PolicyError(ValueError):
    """A policy the emulator cannot evaluate as AWS would (AWS refuses it when written)."""


Compare = Callable[[str, str, Mapping[str, ContextValue] | None], bool]


def _string_equals(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    value = substituted(wanted, context)
    return value is not None and actual == value


def _string_equals_ignore_case(
    actual: str, wanted: str, context: Mapping[str, ContextValue] | None
) -> bool:
    value = substituted(wanted, context)
    return value is not None and actual.casefold() == value.casefold()


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _numeric(test: Callable[[float, float], bool]) -> Compare:
    def compare(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
        a, w = _number(actual), _number(wanted)
        return a is not None and w is not None and test(a, w)

    return compare


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number  # epoch seconds
    candidate = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _dates(test: Callable[[float, float], bool]) -> Compare:
    def compare(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
        a, w = _date(actual), _date(wanted)
        return a is not None and w is not None and test(a, w)

    return compare


def _bool(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    return actual.lower() in {"true", "false"} and actual.lower() == wanted.lower()


def _binary(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    try:
        return base64.b64decode(actual, validate=True) == base64.b64decode(wanted, validate=True)
    except (binascii.Error, ValueError):
        return False


def _ip(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    try:
        address = ipaddress.ip_address(actual.strip())
        network = ipaddress.ip_network(wanted.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _string_like(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    return segment_match(wanted, actual, context)


def _arn(actual: str, wanted: str, context: Mapping[str, ContextValue] | None) -> bool:
    return arn_segments(actual) is not None and resource_matches(wanted, actual, context)


# name -> (comparison, negated). `Null` is handled apart.
OPERATORS: Mapping[str, tuple[Compare, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(lambda a, w: a == w), False),
    "NumericNotEquals": (_numeric(lambda a, w: a == w), True),
    "NumericLessThan": (_numeric(lambda a, w: a < w), False),
    "NumericLessThanEquals": (_numeric(lambda a, w: a <= w), False),
    "NumericGreaterThan": (_numeric(lambda a, w: a > w), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, w: a >= w), False),
    "DateEquals": (_dates(lambda a, w: a == w), False),
    "DateNotEquals": (_dates(lambda a, w: a == w), True),
    "DateLessThan": (_dates(lambda a, w: a < w), False),
    "DateLessThanEquals": (_dates(lambda a, w: a <= w), False),
    "DateGreaterThan": (_dates(lambda a, w: a > w), False),
    "DateGreaterThanEquals": (_dates(lambda a, w: a >= w), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn, False),
    "ArnLike": (_arn, False),
    "ArnNotEquals": (_arn, True),
    "ArnNotLike": (_arn, True),
}

_SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def policy_values(value: Any) -> list[str]:
    """A condition's value(s) as strings (JSON booleans and numbers as AWS reads them)."""
    items = value if isinstance(value, list) else [value]
    return [_text(item) for item in items if item is not None]


def _parse(operator: str) -> tuple[str | None, str, bool]:
    """(set prefix, base operator, IfExists) of an operator name; PolicyError if unknown."""
    prefix = next((p for p in _SET_PREFIXES if operator.startswith(p)), None)
    base = operator[len(prefix) :] if prefix else operator
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null":
        if prefix or if_exists:
            raise PolicyError(f"condition operator {operator} does not exist")
        return None, base, False
    if base not in OPERATORS:
        raise PolicyError(f"unknown condition operator {operator}")
    return prefix, base, if_exists


def _request_values(value: ContextValue | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def _operator_holds(
    operator: str,
    key: str,
    wanted: list[str],
    context: Mapping[str, ContextValue],
    variables: Mapping[str, ContextValue] | None,
) -> bool:
    prefix, base, if_exists = _parse(operator)
    raw = lookup(context, key)
    actual = _request_values(raw)
    if base == "Null":
        absent = not actual
        return any((w.lower() == "true") == absent for w in wanted)
    compare, negated = OPERATORS[base]

    def one(value: str) -> bool:
        matched = any(compare(value, w, variables) for w in wanted)
        return not matched if negated else matched

    if actual is None or (prefix and not actual):
        if if_exists:
            return True
        if prefix == "ForAllValues:":
            return True
        if prefix == "ForAnyValue:":
            return False
        return negated
    if prefix == "ForAllValues:":
        return all(one(value) for value in actual)
    if prefix == "ForAnyValue:":
        return any(one(value) for value in actual)
    # A multivalued key needs a set operator: without one, nothing matches.
    return isinstance(raw, str) and one(raw)


def condition_block_holds(
    block: Any,
    context: Mapping[str, ContextValue],
    *,
    variables_enabled: bool = True,
) -> bool:
    """Whether a statement's `Condition` element holds for the request `context`."""
    if block is None:
        return True
    if not isinstance(block, Mapping):
        raise PolicyError("a Condition element must be an object")
    variables = context if variables_enabled else None
    for operator, pairs in block.items():
        if not isinstance(pairs, Mapping):
            raise PolicyError(f"condition operator {operator} must map keys to values")
        for key, value in pairs.items():
            if not _operator_holds(
                str(operator), str(key), policy_values(value), context, variables
            ):
                return False
    return True
