"""Policy evaluation: policy documents and a request in, a decision out. Pure (no moto).

As reference_policies_evaluation-logic.html (and its single-account and cross-account
pages) describe it, for the policy types the module writes: identity-based policies and one
resource-based policy (a secret's policy, a KMS key policy, a role's trust policy).

1. An explicit Deny in any applicable statement, of either policy, decides: denied.
2. A statement applies when its `Action` (or `NotAction`), its `Resource` (or
   `NotResource`), for a resource-based policy its `Principal` (or `NotPrincipal`), and its
   `Condition` all match the request (matching.py, conditions.py).
3. Within one account the request is allowed when the identity-based policies or the
   resource-based policy allow it, except for KMS key policies and role trust policies,
   which must allow it themselves (`required`). Naming the account (`"AWS":
   "<account>"`/`"arn:aws:iam::<account>:root"`) in such a policy delegates to IAM: the
   caller's identity-based policies must then allow too. Naming the role, the role session
   or the user allows directly.
4. Across accounts both sides must allow.
5. Otherwise it is implicitly denied.

Policy documents of `Version` `2012-10-17` resolve policy variables; other versions take
`${...}` literally. A malformed statement raises PolicyError (AWS refuses such a policy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wslocal.emulator.iam.conditions import PolicyError, condition_block_holds
from wslocal.emulator.iam.matching import (
    POLICY_VERSION_WITH_VARIABLES,
    ContextValue,
    action_matches,
    arn_segments,
    resource_matches,
)

__all__ = [
    "Decision",
    "PolicyError",
    "Principal",
    "Request",
    "ResourcePolicy",
    "decide",
    "statements",
]

Outcome = Literal["allow", "explicitDeny", "implicitDeny"]
_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")
_SESSION = re.compile(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_IAM = re.compile(r"^arn:[^:]+:iam::(\d{12}):(user|role)/.+$")


@dataclass(frozen=True)
class Principal:
    """Who makes the request. `arn`: the user's ARN, the role session's
    (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), the account root's, or a
    service principal's name (`lambda.amazonaws.com`). `role_arn`: a session's role."""

    arn: str
    account: str = ""
    role_arn: str | None = None
    service: bool = False

    @property
    def root(self) -> bool:
        return _ROOT.match(self.arn) is not None

    @classmethod
    def parse(cls, text: str, role_arn: str | None = None) -> Principal:
        """A principal from its ARN or service name; PolicyError when it is neither."""
        if not text.startswith("arn:"):
            if not re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", text):
                raise PolicyError(f"not a principal ARN or service principal: {text!r}")
            return cls(arn=text, service=True)
        session = _SESSION.match(text)
        if session:
            partition, account, role = session.groups()
            return cls(text, account, role_arn or f"arn:{partition}:iam::{account}:role/{role}")
        root = _ROOT.match(text)
        if root:
            return cls(text, root.group(1))
        iam = _IAM.match(text)
        if iam:
            return cls(text, iam.group(1), text if iam.group(2) == "role" else None)
        raise PolicyError(f"not a principal ARN or service principal: {text!r}")


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourcePolicy:
    """A resource-based policy (None document: the resource has none). `required`: a KMS key
    policy or a role trust policy, which must allow the request itself."""

    document: Mapping[str, Any] | None
    account: str
    required: bool = False
    label: str = "resource-based policy"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    # Which policy decided: "identity-based policy", or the resource policy's label.
    decided_by: str = ""
    statement: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    def reason(self, action: str) -> str:
        """AWS's wording for why, appended to "User: ... is not authorized to perform ..."."""
        if self.outcome == "explicitDeny":
            return f"with an explicit deny in a {self.decided_by}"
        if self.outcome == "implicitDeny":
            return f"because no {self.decided_by} allows the {action} action"
        return ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The statements of a policy document; PolicyError when it has none or a bad one."""
    if not isinstance(document, Mapping):
        raise PolicyError("a policy document must be a JSON object")
    listed = _as_list(document.get("Statement"))
    if not listed:
        raise PolicyError("a policy document needs a Statement")
    for statement in listed:
        if not isinstance(statement, Mapping):
            raise PolicyError("each statement must be a JSON object")
        if statement.get("Effect") not in {"Allow", "Deny"}:
            raise PolicyError(f"statement Effect must be Allow or Deny: {statement!r}")
        if ("Action" in statement) == ("NotAction" in statement):
            raise PolicyError("a statement needs exactly one of Action and NotAction")
        if "Resource" in statement and "NotResource" in statement:
            raise PolicyError("a statement may not have both Resource and NotResource")
        yield statement


def _principal_values(element: Any) -> Iterable[tuple[str, str]]:
    if element == "*":
        yield "AWS", "*"
        return
    if not isinstance(element, Mapping):
        raise PolicyError(f'a Principal must be "*" or an object: {element!r}')
    for kind, values in element.items():
        for value in _as_list(values):
            yield str(kind), str(value)


def _principal_strength(element: Any, principal: Principal) -> Literal["direct", "account"] | None:
    """How a Principal element names the caller: directly, through its account (delegating
    to IAM), or not at all."""
    best: Literal["direct", "account"] | None = None
    for kind, value in _principal_values(element):
        if kind == "Service":
            if principal.service and value.lower() == principal.arn.lower():
                return "direct"
            continue
        if kind != "AWS" or principal.service:
            continue  # Federated and CanonicalUser principals never make these requests
        if value == "*":
            return "direct"
        root = _ROOT.match(value)
        account = root.group(1) if root else value if _ACCOUNT.match(value) else None
        if account is not None:
            if account == principal.account:
                if principal.root:
                    return "direct"
                best = "account"
            continue
        if value in {principal.arn, principal.role_arn}:
            return "direct"
    return best


@dataclass
class _Scan:
    deny: str | None = None  # the Sid (or "") of the first applicable Deny
    allow: str | None = None
    account_allow: str | None = None


def _applies(
    statement: Mapping[str, Any],
    request: Request,
    variables: bool,
) -> bool:
    if "Action" in statement:
        if not any(action_matches(a, request.action) for a in _as_list(statement["Action"])):
            return False
    elif any(action_matches(a, request.action) for a in _as_list(statement["NotAction"])):
        return False
    context = request.context if variables else None
    named = [r for r in _as_list(statement.get("Resource", statement.get("NotResource")))]
    matched = any(resource_matches(r, request.resource, context) for r in named)
    if "Resource" in statement and not matched:
        return False
    if "NotResource" in statement and matched:
        return False
    return condition_block_holds(
        statement.get("Condition"), request.context, variables_enabled=variables
    )


def _scan(documents: Iterable[Mapping[str, Any]], request: Request, resource_based: bool) -> _Scan:
    found = _Scan()
    for document in documents:
        variables = document.get("Version") == POLICY_VERSION_WITH_VARIABLES
        for statement in statements(document):
            strength: str | None = "direct"
            if resource_based:
                if "Principal" in statement:
                    strength = _principal_strength(statement["Principal"], request.principal)
                elif "NotPrincipal" in statement:
                    named = _principal_strength(statement["NotPrincipal"], request.principal)
                    strength = None if named else "direct"
                else:
                    raise PolicyError("a resource-based policy statement needs a Principal")
                if strength is None:
                    continue
            elif "Principal" in statement or "NotPrincipal" in statement:
                raise PolicyError("an identity-based policy statement may not name a Principal")
            elif "Resource" not in statement and "NotResource" not in statement:
                raise PolicyError("an identity-based policy statement needs a Resource")
            if not _applies(statement, request, variables):
                continue
            sid = str(statement.get("Sid", ""))
            if statement["Effect"] == "Deny":
                if found.deny is None:
                    found.deny = sid
            elif strength == "account":
                found.account_allow = found.account_allow or sid
            elif found.allow is None:
                found.allow = sid
    return found


def decide(
    request: Request,
    identity_policies: Sequence[Mapping[str, Any]],
    resource_policy: ResourcePolicy | None = None,
) -> Decision:
    """The decision for `request` under the caller's identity-based policies and the
    resource's policy (None: the resource type has no resource-based policy)."""
    principal = request.principal
    identity = _Scan() if principal.service else _scan(identity_policies, request, False)
    if principal.root:
        identity.allow = identity.allow or "account root"
    if identity.deny is not None:
        return Decision("explicitDeny", "identity-based policy", identity.deny or None)
    document = resource_policy.document if resource_policy is not None else None
    resource = _scan([document], request, True) if document is not None else _Scan()
    label = resource_policy.label if resource_policy is not None else "resource-based policy"
    if resource.deny is not None:
        return Decision("explicitDeny", label, resource.deny or None)
    segments = arn_segments(request.resource)
    owner = resource_policy.account if resource_policy is not None else None
    owner = owner or (segments[4] if segments else "")
    same_account = principal.service or not owner or principal.account == owner
    through_account = resource.account_allow is not None and identity.allow is not None
    if resource_policy is not None and resource_policy.required:
        if resource.allow is not None:
            return Decision("allow", label, resource.allow or None)
        if through_account:
            return Decision("allow", "identity-based policy", identity.allow or None)
        if resource.account_allow is not None:
            return Decision("implicitDeny", "identity-based policy")
        return Decision("implicitDeny", label)
    if same_account:
        if identity.allow is not None:
            return Decision("allow", "identity-based policy", identity.allow or None)
        if resource.allow is not None:
            return Decision("allow", label, resource.allow or None)
        return Decision("implicitDeny", "identity-based policy")
    if identity.allow is None:
        return Decision("implicitDeny", "identity-based policy")
    if resource.allow is not None or resource.account_allow is not None:
        return Decision("allow", label, (resource.allow or resource.account_allow) or None)
    return Decision("implicitDeny", label)
