"""A caller, a call: every authorization AWS makes for it, in order, the first refusal wins.

`authorize` joins the caller (principal, identity policies, the request's global condition
keys) with the accesses the resource tables derive from the call (resources.py), decides
each with policy.decide, and raises `Denied` with the error AWS answers, naming the denied
action and resource. Pure given a `Lookup`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.policy import Decision, Principal, Request, decide
from wslocal.emulator.iam.resources import Access, Call, Lookup, accesses
from wslocal.emulator.iam.services_keys import NO_PERMISSION_NEEDED

__all__ = ["Caller", "Denied", "Evaluation", "authorize", "evaluate", "request_context"]

# Keys that describe the caller's own network connection: absent when a service makes the
# call on the caller's behalf (the request then comes from the service).
_CONNECTION_KEYS = ("aws:SourceIp", "aws:UserAgent", "aws:SourceVpc", "aws:SourceVpce")
_SERVICE_NAMES = {
    "secretsmanager": "Secrets Manager",
    "dynamodb": "DynamoDB",
    "ssm": "Systems Manager",
}


@dataclass(frozen=True)
class Caller:
    """Who calls: the principal, its identity-based policies, and the global condition keys
    of its requests (request_context)."""

    principal: Principal
    identity_policies: Sequence[Mapping[str, Any]]
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    @property
    def display_arn(self) -> str:
        return self.principal.arn


class Denied(Exception):
    """A request AWS refuses: status, error type, message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Evaluation:
    access: Access
    decision: Decision

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.access.action,
            "resource": self.access.resource,
            "decision": self.decision.outcome,
            "decidedBy": self.decision.decided_by,
            "statement": self.decision.statement,
            "viaService": self.access.via_service,
        }


def request_context(
    principal: Principal,
    *,
    region: str,
    source_ip: str | None = None,
    user_agent: str | None = None,
    principal_tags: Mapping[str, str] | None = None,
    user_id: str | None = None,
    temporary: bool = False,
    token_issued: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, ContextValue]:
    """The global condition keys AWS puts in every request of `principal`
    (reference_policies_condition-keys.html)."""
    moment = now or datetime.now(UTC)
    context: dict[str, ContextValue] = {
        "aws:CurrentTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(moment.timestamp())),
        "aws:SecureTransport": "true",  # every AWS endpoint is HTTPS
        "aws:RequestedRegion": region,
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "true" if principal.service else "false",
    }
    if principal.service:
        context["aws:PrincipalServiceName"] = principal.arn
        return context
    context["aws:PrincipalAccount"] = principal.account
    context["aws:PrincipalArn"] = principal.role_arn or principal.arn
    if principal.root:
        context["aws:PrincipalType"] = "Account"
    elif principal.role_arn and principal.arn != principal.role_arn:
        context["aws:PrincipalType"] = "AssumedRole"
    else:
        context["aws:PrincipalType"] = "User"
        context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    if user_id:
        context["aws:userid"] = user_id
    if source_ip:
        context["aws:SourceIp"] = source_ip
    if user_agent:
        context["aws:UserAgent"] = user_agent
    if temporary:
        context["aws:MultiFactorAuthPresent"] = "false"
        if token_issued is not None:
            context["aws:TokenIssueTime"] = token_issued.strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in (principal_tags or {}).items():
        context[f"aws:PrincipalTag/{key}"] = value
    return context


def _full_context(caller: Caller, access: Access) -> dict[str, ContextValue]:
    context = dict(caller.context)
    if access.via_service:
        for key in _CONNECTION_KEYS:
            context.pop(key, None)
    context.update(access.context)
    return context


def evaluate(caller: Caller, wanted: Sequence[Access]) -> list[Evaluation]:
    """Each access decided for `caller` (no short cut: every decision is reported)."""
    return [
        Evaluation(
            access,
            decide(
                Request(
                    caller.principal, access.action, access.resource, _full_context(caller, access)
                ),
                caller.identity_policies,
                access.resource_policy,
            ),
        )
        for access in wanted
    ]


def denial_message(caller: Caller, evaluation: Evaluation) -> str:
    access, decision = evaluation.access, evaluation.decision
    message = (
        f"User: {caller.display_arn} is not authorized to perform: {access.action} "
        f"on resource: {access.resource} {decision.reason(access.action)}"
    )
    if access.via_service:
        service = _SERVICE_NAMES.get(access.via_service, access.via_service)
        via = access.context.get("kms:ViaService")
        message = (
            f"Access to KMS is not allowed: {message} ({service} calls KMS on the caller's "
            f"behalf with kms:ViaService {via})"
        )
    return message


def authorize(
    caller: Caller, call: Call, lookup: Lookup, *, json_protocol: bool = True
) -> list[Evaluation]:
    """Every authorization of `call` for `caller`; raises Denied at the first refusal (an
    UnmappedRequest or InvalidRequest from the tables propagates)."""
    if f"{call.service}:{call.operation}" in NO_PERMISSION_NEEDED:
        return []
    evaluations = evaluate(caller, accesses(call, lookup))
    for evaluation in evaluations:
        if not evaluation.decision.allowed:
            status = 400 if json_protocol else 403
            error_type = "AccessDeniedException" if json_protocol else "AccessDenied"
            raise Denied(status, error_type, denial_message(caller, evaluation))
    return evaluations
