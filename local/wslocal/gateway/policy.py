"""The two policy decisions API Gateway makes around a Lambda: may it invoke the function
(the function's resource policy), and does an authorizer's answer allow the route (the
IAM policy document the authorizer returns)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "API_GATEWAY_PRINCIPAL",
    "arn_like",
    "authorizer_policy_allows",
    "lambda_policy_allows",
    "primitive_context",
    "wildcard_match",
]

API_GATEWAY_PRINCIPAL = "apigateway.amazonaws.com"
_INVOKE_ACTION = "lambda:InvokeFunction"
_EXECUTE_ACTION = "execute-api:Invoke"


@functools.lru_cache(maxsize=512)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM string matching: `*` is any run of characters, `?` any single character."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM `ArnLike`/`ArnEquals`: the six colon-separated parts are matched one by one,
    each with `*` and `?` wildcards (the last part, the resource, may contain colons)."""
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _statements(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not policy:
        return []
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, Mapping)]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            wildcard_match(str(p), action, ignore_case=True)
            for p in _as_list(statement["NotAction"])
        )
    return any(
        wildcard_match(str(p), action, ignore_case=True) for p in _as_list(statement.get("Action"))
    )


def _principal_matches(statement: Mapping[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _as_list(principal.get("AWS")):
        return True
    return service in _as_list(principal.get("Service"))


def _string_like(pattern: str, value: str) -> bool:
    return wildcard_match(pattern, value)


def _string_equals(pattern: str, value: str) -> bool:
    return pattern == value


def _string_equals_ignore_case(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


# Each operator and whether it is negated ("...Not...": every pattern must fail to match).
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
}


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Every condition must hold. Keys are case-insensitive; an operator or key this
    module does not know makes the statement not apply (it never widens access)."""
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, Mapping):
        return False
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, clauses in conditions.items():
        known = _OPERATORS.get(str(operator).removesuffix("IfExists"))
        if known is None or not isinstance(clauses, Mapping):
            return False
        compare, negated = known
        for key, expected in clauses.items():
            value = lowered.get(str(key).lower())
            if value is None:
                if str(operator).endswith("IfExists"):
                    continue
                return False
            patterns = [str(p) for p in _as_list(expected)]
            matched = any(compare(p, value) for p in patterns)
            if matched == negated:
                return False
    return True


def lambda_policy_allows(
    policy: Mapping[str, Any] | None, *, source_arn: str, source_account: str
) -> bool:
    """Whether the function's resource policy lets API Gateway invoke it for `source_arn`.

    As in IAM: an explicit Deny wins, otherwise one Allow statement for the
    `apigateway.amazonaws.com` principal and `lambda:InvokeFunction` whose conditions
    hold is needed. A statement without conditions allows any API (that is AWS's rule,
    and the reason a permission should always carry a `SourceArn`).
    """
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account}
    allowed = False
    for statement in _statements(policy):
        if not (
            _principal_matches(statement, API_GATEWAY_PRINCIPAL)
            and _action_matches(statement, _INVOKE_ACTION)
            and _conditions_hold(statement, context)
        ):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(str(p), resource) for p in _as_list(statement["NotResource"]))
    return any(wildcard_match(str(p), resource) for p in _as_list(statement.get("Resource")))


def authorizer_policy_allows(policy_document: Any, method_arn: str) -> bool:
    """Whether an authorizer's policy document allows `execute-api:Invoke` on the route."""
    if not isinstance(policy_document, Mapping):
        return False
    allowed = False
    for statement in _statements(policy_document):
        if not (
            _action_matches(statement, _EXECUTE_ACTION) and _resource_matches(statement, method_arn)
        ):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def primitive_context(context: Any) -> bool:
    """Authorizer context values may only be strings, numbers or booleans."""
    if context is None:
        return True
    if not isinstance(context, Mapping):
        return False
    return all(isinstance(value, str | int | float | bool) for value in context.values())
