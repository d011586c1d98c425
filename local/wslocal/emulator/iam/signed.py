"""Decisions for signed requests the emulator does not serve (form 1 of endpoint.py): the
local gateway's `@connections` calls, which API Gateway authorizes with SigV4 and
`execute-api:ManageConnections`.

The fixed admin keys of the local tools are never issued by the emulator: their signature
must match their fixed secret, and they are then allowed (they stand for the account's
administrator). Any other key must be one the emulator issued, signed with its secret (and
its session token), not expired, and allowed by its identity policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import _RESTError
from moto.iam.access_control import IAMRequest

from wslocal.emulator.iam.authorize import evaluate
from wslocal.emulator.iam.conditions import PolicyError
from wslocal.emulator.iam.endpoint import _answer, refusal
from wslocal.emulator.iam.moto_hook import caller_of
from wslocal.emulator.iam.moto_state import issued_key
from wslocal.emulator.iam.resources import Access
from wslocal.emulator.iam.sigv4 import (
    SignatureProblem,
    admin_signature_matches,
    check_signed_request,
)

__all__ = ["ADMIN_CREDENTIALS", "decide_signed"]

# The fixed credentials of the local tools (Terraform, the stack, the tests).
ADMIN_CREDENTIALS: Mapping[str, str] = {"test": "test", "testing": "testing"}
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)
_INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message


def _canonical_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def decide_signed(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    action: str,
    resource: str,
    source_ip: str | None = None,
) -> dict[str, Any]:
    """Whether the SigV4-signed request (`target`: path and query as sent) may perform
    `action` on `resource`, as AWS decides; the endpoint's answer document."""
    named = {_canonical_name(k): v for k, v in headers}
    try:
        signed = check_signed_request(named)
    except SignatureProblem as problem:
        error_type = "RequestTimeTooSkewed" if problem.kind == "skew" else "ForbiddenException"
        return refusal("", 403, error_type, problem.message)
    if any(name not in {k.lower() for k in named} for name in signed.signed_headers):
        return refusal(
            "", 403, "ForbiddenException", _MISMATCH
        )  # a signed header that did not arrive
    key_id = signed.access_key_id
    if key_id in ADMIN_CREDENTIALS:
        if not admin_signature_matches(
            ADMIN_CREDENTIALS[key_id], signed, method, target, named, body
        ):
            return refusal("", 403, "ForbiddenException", _MISMATCH)
        return _answer(f"admin:{key_id}", [], None)
    issued = issued_key(key_id)
    if issued is None:
        return refusal("", 403, "ForbiddenException", _INVALID_TOKEN)
    if issued.expires is not None and issued.expires <= datetime.now(UTC):
        return refusal(
            issued.principal.arn, 403, "ExpiredTokenException",
            "The security token included in the request is expired",
        )  # fmt: skip
    try:
        IAMRequest(
            account_id=issued.account,
            method=method,
            path=target,
            data={},
            body=body,
            headers=named,
            action=action.split(":", 1)[1],
        ).check_signature()
    except _RESTError as error:
        message = _MISMATCH if error.error_type == "SignatureDoesNotMatch" else _INVALID_TOKEN
        return refusal(issued.principal.arn, 403, "ForbiddenException", message)
    caller = caller_of(issued, signed.region, source_ip, named.get("User-Agent"))
    try:
        evaluations = evaluate(caller, [Access(action, resource)])
    except PolicyError as malformed:
        return refusal(issued.principal.arn, 400, "MalformedPolicyDocument", str(malformed))
    return _answer(issued.principal.arn, evaluations, caller, 403, "ForbiddenException")
