"""`POST /_wslocal/iam/authorize`: the emulator's IAM decisions for requests it does not
serve itself, and for any policy shape a test wants decided.

`GET /_wslocal/iam/authorize` answers `{"enforced": true}` (so a client can tell this
emulator from another). `POST` takes a JSON object in one of two forms and answers `200`
with a decision (`400` with `{"message"}` for a malformed query):

1. A signed request (the local gateway's `@connections` calls)::

       {"method": "POST", "target": "/local/@connections/abc%3D",
        "headers": [["Host", "..."], ["Authorization", "AWS4-HMAC-SHA256 ..."], ...],
        "body": "<base64>", "action": "execute-api:ManageConnections",
        "resource": "arn:aws:execute-api:us-east-1:123456789012:api/local/POST/@connections/abc="}

   The SigV4 request is checked (sigv4.py: host signed, 15-minute skew, the signature with
   the key's secret; the fixed admin keys are checked against their fixed secret and then
   allowed), then the issued key's principal is decided as for a call moto serves, with
   its identity policies.

2. A policy evaluation (no `method`)::

       {"principal": "arn:aws:sts::123456789012:assumed-role/handler/fn",
        "roleArn": "arn:aws:iam::123456789012:role/path/handler",       (optional)
        "identityPolicies": [{"Version": "2012-10-17", "Statement": [...]}, ...],
        "action": "kms:Decrypt",
        "resource": "arn:aws:kms:us-east-1:123456789012:key/...",        (or "resources": [...])
        "context": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com", ...},
        "resourcePolicy": {...},     (optional: a secret policy, key policy or trust policy)
        "resourceAccount": "123456789012",         (optional; default: the resource's)
        "resourcePolicyRequired": true}            (optional; default: true for kms: and
                                                    sts:AssumeRole actions, else false)

   `principal` is a user, role-session, role or account-root ARN, or a service principal
   (`lambda.amazonaws.com`). The global keys of the principal (`aws:PrincipalArn`,
   `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username`, `aws:SecureTransport`,
   `aws:CurrentTime`, `aws:EpochTime`, `aws:RequestedRegion`, `aws:ViaAWSService`...) are
   added unless `context` sets them; every other key is exactly what `context` says (a key
   it lacks is absent from the request). Values are strings, or lists for multivalued keys.

   Instead of `action`/`resource`, an API call may be named, and the emulator derives its
   authorizations as it does for calls it serves (resources.py), the resources' facts read
   from the emulator's own state (a secret's ARN and key, a table's key...)::

       {"principal": ..., "identityPolicies": [...],
        "call": {"service": "secretsmanager", "operation": "GetSecretValue",
                 "parameters": {"SecretId": "my-secret", "VersionStage": "AWSPREVIOUS"},
                 "region": "us-east-1", "account": "123456789012"},
        "context": {...}}                          (optional, added to every authorization)

The answer, for both::

    {"allowed": false, "decision": "allow" | "explicitDeny" | "implicitDeny",
     "principal": "...", "status": 403, "errorType": "AccessDeniedException",
     "message": "User: ... is not authorized to perform: kms:Decrypt on resource: ... because
                 no identity-based policy allows the kms:Decrypt action",
     "evaluations": [{"action", "resource", "decision", "decidedBy", "statement",
                      "viaService"}, ...]}

`decision` is the first refusal's (or "allow"); `evaluations` lists every authorization the
request needed (a KMS call a service makes on the caller's behalf has `viaService`). A policy
the emulator cannot evaluate as AWS would (an unknown condition operator, a statement
without Effect) answers `"errorType": "MalformedPolicyDocument"`, and an API call the tables
do not map `"errorType": "UnmappedRequest"`, both `allowed: false`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from wslocal.emulator.iam.authorize import (
    Caller,
    Evaluation,
    denial_message,
    evaluate,
    request_context,
)
from wslocal.emulator.iam.conditions import PolicyError
from wslocal.emulator.iam.matching import arn_segments
from wslocal.emulator.iam.policy import Principal, ResourcePolicy
from wslocal.emulator.iam.resources import (
    Access,
    Call,
    InvalidRequest,
    Lookup,
    UnmappedRequest,
    accesses,
)

__all__ = ["AUTHORIZE_PATH", "evaluation_answer", "refusal", "signed_answer", "wsgi_middleware"]

AUTHORIZE_PATH = "/_wslocal/iam/authorize"


def _answer(
    principal: str,
    evaluations: list[Evaluation],
    caller: Caller | None,
    status: int = 403,
    error_type: str = "AccessDeniedException",
) -> dict[str, Any]:
    refused = next((e for e in evaluations if not e.decision.allowed), None)
    document: dict[str, Any] = {
        "allowed": refused is None,
        "decision": refused.decision.outcome if refused else "allow",
        "principal": principal,
        "status": 200 if refused is None else status,
        "errorType": "" if refused is None else error_type,
        "message": "" if refused is None or caller is None else denial_message(caller, refused),
        "evaluations": [e.to_json() for e in evaluations],
    }
    return document


def refusal(principal: str, status: int, error_type: str, message: str) -> dict[str, Any]:
    decision = "explicitDeny" if "explicit deny" in message else "implicitDeny"
    return {
        "allowed": False,
        "decision": decision,
        "principal": principal,
        "status": status,
        "errorType": error_type,
        "message": message,
        "evaluations": [],
    }


def _policy_list(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    documents: list[dict[str, Any]] = []
    for item in items:
        document = json.loads(item) if isinstance(item, str) else item
        if not isinstance(document, dict):
            raise ValueError(f"{name} must hold policy documents (objects)")
        documents.append(document)
    return documents


def _context(value: Any) -> dict[str, str | list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("context must be an object")
    context: dict[str, str | list[str]] = {}
    for key, item in value.items():
        if isinstance(item, list):
            context[str(key)] = [_scalar(v) for v in item]
        else:
            context[str(key)] = _scalar(item)
    return context


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _explicit_accesses(query: Mapping[str, Any], principal: Principal) -> list[Access]:
    action = query.get("action")
    if not isinstance(action, str) or ":" not in action:
        raise ValueError("action must be service:Operation")
    resources = query.get("resources", query.get("resource", "*"))
    listed = [str(r) for r in (resources if isinstance(resources, list) else [resources])]
    policy_document = query.get("resourcePolicy")
    if isinstance(policy_document, str):
        policy_document = json.loads(policy_document)
    required = query.get("resourcePolicyRequired")
    if required is None:
        required = action.lower().startswith("kms:") or action.lower() == "sts:assumerole"
    result: list[Access] = []
    for resource in listed:
        segments = arn_segments(resource)
        account = str(
            query.get("resourceAccount") or (segments[4] if segments else "") or principal.account
        )
        policy = None
        if policy_document is not None or required:
            policy = ResourcePolicy(policy_document, account, required=bool(required))
        result.append(Access(action, resource, {}, policy))
    return result


def evaluation_answer(query: Mapping[str, Any], lookup: Lookup) -> dict[str, Any]:
    """Form 2 of the docstring: a policy evaluation. ValueError for a malformed query."""
    principal_text = query.get("principal")
    if not isinstance(principal_text, str):
        raise ValueError("principal must be an ARN or a service principal")
    try:
        principal = Principal.parse(principal_text, query.get("roleArn"))
    except PolicyError as error:
        raise ValueError(str(error)) from None
    identity = _policy_list(query.get("identityPolicies"), "identityPolicies")
    given = _context(query.get("context"))
    call_spec = query.get("call")
    try:
        if isinstance(call_spec, Mapping):
            call = Call(
                str(call_spec["service"]),
                str(call_spec["operation"]),
                dict(call_spec.get("parameters") or {}),
                str(call_spec.get("region") or "us-east-1"),
                str(call_spec.get("account") or principal.account or "123456789012"),
            )
            wanted = accesses(call, lookup)
            region = call.region
        else:
            wanted = _explicit_accesses(query, principal)
            segments = arn_segments(wanted[0].resource) if wanted else None
            region = (segments[3] if segments else "") or "us-east-1"
        base = request_context(principal, region=region)
        base.update(given)
        caller = Caller(principal, identity, base)
        evaluations = evaluate(caller, wanted)
    except UnmappedRequest as unmapped:
        return refusal(principal_text, 403, "UnmappedRequest", str(unmapped))
    except InvalidRequest as invalid:
        return refusal(principal_text, 400, "ValidationException", str(invalid))
    except PolicyError as malformed:
        return refusal(principal_text, 400, "MalformedPolicyDocument", str(malformed))
    return _answer(principal_text, evaluations, caller)


def signed_answer(
    query: Mapping[str, Any], decide_signed: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """Form 1 of the docstring, decided by `decide_signed` (signed.py)."""
    return decide_signed(
        str(query["method"]),
        str(query["target"]),
        [(str(k), str(v)) for k, v in query["headers"]],
        base64.b64decode(query.get("body") or ""),
        str(query["action"]),
        str(query["resource"]),
    )


def wsgi_middleware(
    app: Callable[..., Any],
    lookup: Callable[[], Lookup],
    decide_signed: Callable[..., dict[str, Any]],
) -> Callable[..., Any]:
    """`app` with `GET`/`POST /_wslocal/iam/authorize` in front of it."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != AUTHORIZE_PATH:
            return app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            document: dict[str, Any] = {"enforced": True}
        elif method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                query = json.loads(environ["wsgi.input"].read(length))
                if not isinstance(query, dict):
                    raise ValueError("the query must be a JSON object")
                if "method" in query:
                    document = signed_answer(query, decide_signed)
                else:
                    document = evaluation_answer(query, lookup())
            except (KeyError, TypeError, ValueError) as exc:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [json.dumps({"message": f"malformed request: {exc}"}).encode()]
        else:
            start_response("405 Method Not Allowed", [("Content-Type", "application/json")])
            return [b'{"message": "method not allowed"}']
        body = json.dumps(document).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return middleware
