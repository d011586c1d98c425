"""IAM enforcement for the credentials the emulator issues, added to moto at start-up.

moto can evaluate IAM (its `INITIAL_NO_AUTH_ACTION_COUNT` setting), but then for every
caller, the fixed admin keys Terraform and the tests use included. `install()` wraps moto's
request authorization so that a request signed with a key moto issued (an IAM user's access
key, or the temporary credentials of `sts:AssumeRole`) is checked as AWS checks it, and any
other key is served as before:

- the signature, with moto's own `IAMRequest` (the key's secret, and the session token of
  assumed-role credentials); expired temporary credentials are refused;
- the caller's identity policies (inline and attached, a user's groups included, collected
  by moto) for the action, on the resource the request names: DynamoDB tables and indexes,
  Secrets Manager secrets, SSM parameters, KMS keys, the role of `sts:AssumeRole`. Other
  requests are checked for the action only. An explicit Deny wins; no Allow is a denial.

Conditions are evaluated for the keys the emulator knows (`aws:PrincipalArn`,
`aws:PrincipalAccount`, `aws:RequestedRegion`, `aws:SecureTransport`) with the String, Arn
and Bool operators; a condition on any other key is taken as met. Permission boundaries,
session policies, service control policies and resource policies are not evaluated.

`authorize_request()` runs the same checks for a request the emulator does not serve itself:
the local gateway sends each `@connections` call to `POST /_wslocal/iam/authorize` (see
`wsgi_middleware`) with the `execute-api:ManageConnections` resource it names. There the
admin keys are checked too: their signature must match their fixed secret.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.iam.access_control import IAMPolicy, IAMRequest
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import PARTITION_NAMES

__all__ = [
    "ADMIN_CREDENTIALS",
    "AUTHORIZE_PATH",
    "Decision",
    "authorize_request",
    "evaluate",
    "install",
    "wsgi_middleware",
]

log = logging.getLogger("wslocal.emulator")

# The fixed credentials of the local tools (Terraform, the stack, the tests): never issued by
# the emulator, so never checked against IAM; their secret is checked where signatures are
# (the @connections endpoint).
ADMIN_CREDENTIALS: Mapping[str, str] = {"test": "test", "testing": "testing"}
AUTHORIZE_PATH = "/_wslocal/iam/authorize"
_MARK = "_wslocal_iam"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/([^/]+)/([^/]+)/([^/]+)/aws4_request")


class _Denied(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Decision:
    """The outcome of `authorize_request`: allowed, or the error AWS would answer."""

    allowed: bool
    principal: str = ""
    status: int = 200
    error_type: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "principal": self.principal,
            "status": self.status,
            "errorType": self.error_type,
            "message": self.message,
        }


# -- policy evaluation --------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _matches(patterns: Iterable[str], value: str, *, ignore_case: bool = False) -> bool:
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        regex = "".join(
            ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
        )
        if re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0):
            return True
    return False


def _condition_holds(
    operator: str, key: str, expected: list[str], context: Mapping[str, str]
) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        base = base.removeprefix(prefix)
    actual = (
        context.get(key)
        if key in context
        else next((v for k, v in context.items() if k.lower() == key.lower()), None)
    )
    if actual is None:
        # A key the emulator does not know is taken as met (documented); a known key that is
        # absent fails, unless IfExists.
        return if_exists or key.lower() not in {k.lower() for k in _KNOWN_KEYS}
    expected = [str(e) for e in expected]
    if base in {"StringEquals", "ArnEquals"}:
        return actual in expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in {e.lower() for e in expected}
    if base in {"StringLike", "ArnLike"}:
        return _matches(expected, actual)
    if base in {"StringNotEquals", "ArnNotEquals"}:
        return actual not in expected
    if base == "StringNotEqualsIgnoreCase":
        return actual.lower() not in {e.lower() for e in expected}
    if base in {"StringNotLike", "ArnNotLike"}:
        return not _matches(expected, actual)
    if base == "Bool":
        return actual.lower() in {e.lower() for e in expected}
    return True  # an operator the emulator does not evaluate is taken as met


_KNOWN_KEYS = (
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:RequestedRegion",
    "aws:SecureTransport",
)


def _conditions_hold(condition: Any, context: Mapping[str, str]) -> bool:
    if not isinstance(condition, dict):
        return True
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            continue
        for key, expected in pairs.items():
            if operator == "Null":
                present = key in context
                if any(str(e).lower() == "true" for e in _as_list(expected)) == present:
                    return False
                continue
            if not _condition_holds(operator, key, _as_list(expected), context):
                return False
    return True


def _statements(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for statement in _as_list(document.get("Statement")):
        if isinstance(statement, dict):
            yield statement


def _statement_applies(
    statement: Mapping[str, Any], action: str, resource: str | None, context: Mapping[str, str]
) -> bool:
    if "NotAction" in statement:
        if _matches(_as_list(statement["NotAction"]), action, ignore_case=True):
            return False
    elif not _matches(_as_list(statement.get("Action")), action, ignore_case=True):
        return False
    if resource is not None:
        if "NotResource" in statement:
            if _matches(_as_list(statement["NotResource"]), resource):
                return False
        elif not _matches(_as_list(statement.get("Resource")), resource):
            return False
    return _conditions_hold(statement.get("Condition"), context)


def evaluate(
    documents: Iterable[Mapping[str, Any]],
    action: str,
    resource: str | None,
    context: Mapping[str, str] | None = None,
) -> str:
    """`"allow"`, `"deny"` (an explicit Deny) or `"implicit"` (no statement allows) for
    `action` on `resource` under the identity policies `documents`. A resource of None
    (not known for this request) matches every statement's Resource."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not _statement_applies(statement, action, resource, context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "allow" if allowed else "implicit"


# -- the resources a request names ----------------------------------------------------------


def _secret_arn(account: str, region: str, secret_id: str) -> str | None:
    if secret_id.startswith("arn:"):
        return secret_id
    try:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account][region]
        secret = backend.secrets.get(secret_id)
    except Exception:  # noqa: BLE001 - an unknown secret: the call itself answers
        return None
    arn = getattr(secret, "arn", None)
    return str(arn) if arn else None


def request_resources(
    service: str, action: str, params: Mapping[str, Any], region: str, account: str
) -> list[str | None]:
    """The ARNs a request acts on, as IAM names them; [None] when not known here."""
    prefix = f"arn:aws:{service}:{region}:{account}"
    if service == "dynamodb":
        tables: list[str] = []
        if isinstance(params.get("TableName"), str):
            table = f"{prefix}:table/{params['TableName']}"
            index = params.get("IndexName")
            tables.append(f"{table}/index/{index}" if isinstance(index, str) else table)
        if isinstance(params.get("RequestItems"), dict):
            tables.extend(f"{prefix}:table/{name}" for name in params["RequestItems"])
        for item in _as_list(params.get("TransactItems")):
            for operation in (item or {}).values():
                if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                    tables.append(f"{prefix}:table/{operation['TableName']}")
        return list(tables) or [None]
    if service == "secretsmanager" and isinstance(params.get("SecretId"), str):
        return [_secret_arn(account, region, params["SecretId"])]
    if service == "ssm":
        names = [params["Name"]] if isinstance(params.get("Name"), str) else []
        names += [n for n in _as_list(params.get("Names")) if isinstance(n, str)]
        return [f"{prefix}:parameter/{n.lstrip('/')}" for n in names] or [None]
    if service == "kms" and isinstance(params.get("KeyId"), str):
        key = params["KeyId"]
        if key.startswith("arn:"):
            return [key]
        return [None if key.startswith("alias/") else f"{prefix}:key/{key}"]
    if service == "sts" and action == "AssumeRole":
        role = params.get("RoleArn")
        return [role if isinstance(role, str) else None]
    return [None]


# -- the credentials a request is signed with ------------------------------------------------


def _access_key_id(headers: Mapping[str, str]) -> str | None:
    match = _CREDENTIAL.search(headers.get("Authorization", "") or "")
    return match.group(1) if match else None


def issued_key_account(access_key_id: str) -> str | None:
    """The account whose IAM user or `sts:AssumeRole` issued `access_key_id`, or None."""
    for account_id, account in list(iam_backends.items()):
        for partition in PARTITION_NAMES:
            if access_key_id in account[partition].access_keys:
                return str(account_id)
    return None


def _expiry(account: str, access_key_id: str) -> datetime | None:
    for partition in PARTITION_NAMES:
        for role in list(sts_backends[account][partition].assumed_roles):
            if role.access_key_id == access_key_id:
                expiration: datetime = role.expiration
                return expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC)
    return None


def _context(principal: str, account: str, region: str) -> dict[str, str]:
    return {
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": account,
        "aws:RequestedRegion": region,
        "aws:SecureTransport": "true",  # every AWS endpoint is HTTPS
    }


def _principal_arn(iam_request: IAMRequest) -> str:
    arn = str(iam_request._access_key.arn)
    match = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.*", arn)
    if match:  # conditions on aws:PrincipalArn see the role, as on AWS
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"
    return arn


def _documents(iam_request: IAMRequest) -> list[dict[str, Any]]:
    policies = iam_request._access_key.collect_policies()
    return [IAMPolicy(policy)._policy_json for policy in policies]


def _check(
    iam_request: IAMRequest,
    account: str,
    access_key_id: str,
    region: str,
    action: str,
    resources: list[str | None],
) -> str:
    """Signature, expiry and policies of an issued key; the principal's ARN, or _Denied."""
    expiry = _expiry(account, access_key_id)
    if expiry is not None and expiry <= datetime.now(UTC):
        raise _Denied(
            403, "ExpiredTokenException", "The security token included in the request is expired"
        )
    iam_request.check_signature()
    principal = _principal_arn(iam_request)
    if action == "sts:GetCallerIdentity":
        return principal  # always allowed on AWS, whatever the policies say
    documents = _documents(iam_request)
    context = _context(principal, account, region)
    for resource in resources:
        if evaluate(documents, action, resource, context) != "allow":
            caller = str(iam_request._access_key.arn)
            on = f" on resource: {resource}" if resource else ""
            reason = f"because no identity-based policy allows the {action} action"
            raise _Denied(
                403,
                "AccessDeniedException",
                f"User: {caller} is not authorized to perform: {action}{on} {reason}",
            )
    return principal


# -- moto's request authorization, wrapped ---------------------------------------------------


def _request_params(response: Any) -> dict[str, Any]:
    """The request's parameters: its JSON body (JSON protocols), else its query string."""
    raw = getattr(response, "raw_body", None)
    if isinstance(raw, bytes | str) and raw.lstrip()[:1] in {b"{", "{"}:
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if isinstance(document, dict):
            return document
    params: dict[str, Any] = {}
    for key, values in (getattr(response, "querystring", None) or {}).items():
        params[key] = values[0] if isinstance(values, list) and len(values) == 1 else values
    return params


def _authorize_issued(
    response: Any, iam_request_cls: type, resource: str, access_key_id: str, account: str
) -> None:
    path = response.raw_path
    if getattr(response, "uri", "") and "?" in response.uri:
        path += "?" + response.uri.split("?", 1)[1]
    iam_request = iam_request_cls(
        account_id=account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=response._get_action(),
    )
    service, region = iam_request._service, iam_request._region
    resources: list[str | None] = (
        [resource]
        if resource not in {"*", None}
        else request_resources(
            service, response._get_action(), _request_params(response), region, account
        )
    )
    _check(iam_request, account, access_key_id, region, iam_request._action, resources)


def _wrap(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        access_key_id = _access_key_id(self.headers)
        account = issued_key_account(access_key_id) if access_key_id else None
        if access_key_id is None or account is None:
            original(self, iam_request_cls, resource)  # the admin keys: as moto serves them
            return
        json_protocol = bool(self.headers.get("X-Amz-Target"))
        try:
            _authorize_issued(self, iam_request_cls, resource, access_key_id, account)
        except _Denied as denied:
            log.warning("denied for %s: %s", access_key_id, denied.message)
            error: _RESTError
            if json_protocol:
                error = JsonRESTError(denied.error_type, denied.message)
            else:
                error = _RESTError(denied.error_type.removesuffix("Exception"), denied.message)
            error.code = denied.status
            raise error from None
        except _RESTError as error:  # moto's signature and key errors, in XML
            if json_protocol and not isinstance(error, JsonRESTError):
                raise error.to_json() from None
            raise

    return authorize


def install() -> None:
    """Check IAM for the credentials the emulator issues, in this process. Idempotent."""
    if getattr(ActionAuthenticatorMixin, _MARK, False):
        return
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _wrap(  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_action
    )
    setattr(ActionAuthenticatorMixin, _MARK, True)


# -- requests the emulator does not serve (the gateway's @connections) -------------------------


def _canonical_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _admin_signature_matches(
    secret: str,
    access_key_id: str,
    region: str,
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    signature: str,
    signed: list[str],
) -> bool:
    request = AWSRequest(
        method=method,
        url=target,
        data=body,
        headers={k: v for k, v in headers.items() if k.lower() in signed},
    )
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    auth = SigV4Auth(Credentials(access_key_id, secret), service, region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return bool(expected) and expected == signature


def authorize_request(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    action: str,
    resource: str,
) -> Decision:
    """Whether the SigV4-signed request (`target`: path and query as sent) may perform
    `action` (`service:Operation`) on `resource`, as AWS decides for the caller."""
    named = {_canonical_name(k): v for k, v in headers}
    authorization = named.get("Authorization", "")
    match = _CREDENTIAL.search(authorization)
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or match is None:
        return Decision(
            False,
            status=403,
            error_type="ForbiddenException",
            message="Missing Authentication Token",
        )
    access_key_id, _, region, service = match.groups()
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(",")
        if "=" in part
    )
    signature = fields.get("Signature", "")
    signed = [h.strip().lower() for h in fields.get("SignedHeaders", "").split(";") if h.strip()]
    if "X-Amz-Date" not in named:
        return Decision(
            False,
            status=403,
            error_type="ForbiddenException",
            message="Missing Authentication Token",
        )
    mismatch = Decision(
        False,
        status=403,
        error_type="ForbiddenException",
        message=(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        ),
    )
    if any(name not in {k.lower() for k in named} for name in signed):
        return mismatch  # a signed header that did not arrive
    if access_key_id in ADMIN_CREDENTIALS:
        if not _admin_signature_matches(
            ADMIN_CREDENTIALS[access_key_id],
            access_key_id,
            region,
            service,
            method,
            target,
            named,
            body,
            signature,
            signed,
        ):
            return mismatch
        return Decision(True, principal=f"admin:{access_key_id}")
    account = issued_key_account(access_key_id)
    if account is None:
        return Decision(
            False,
            status=403,
            error_type="ForbiddenException",
            message="The security token included in the request is invalid.",
        )
    try:
        iam_request = IAMRequest(
            account_id=account,
            method=method,
            path=target,
            data={},
            body=body,
            headers=named,
            action=action.split(":", 1)[1],
        )
        principal = _check(iam_request, account, access_key_id, region, action, [resource])
    except _Denied as denied:
        return Decision(
            False, status=denied.status, error_type="ForbiddenException", message=denied.message
        )
    except _RESTError as error:
        if error.error_type == "SignatureDoesNotMatch":
            return mismatch
        return Decision(
            False,
            status=403,
            error_type="ForbiddenException",
            message="The security token included in the request is invalid.",
        )
    return Decision(True, principal=principal)


def wsgi_middleware(app: Callable[..., Any]) -> Callable[..., Any]:
    """`app` with `POST /_wslocal/iam/authorize` (JSON: method, target, headers as pairs,
    body in base64, action, resource; answers `Decision.to_json()`) and `GET` of the same
    path (`{"enforced": true}`, so a client can tell this emulator from another)."""

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
                decision = authorize_request(
                    str(query["method"]),
                    str(query["target"]),
                    [(str(k), str(v)) for k, v in query["headers"]],
                    base64.b64decode(query.get("body") or ""),
                    str(query["action"]),
                    str(query["resource"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [json.dumps({"message": f"malformed request: {exc}"}).encode()]
            document = decision.to_json()
        else:
            start_response("405 Method Not Allowed", [("Content-Type", "application/json")])
            return [b'{"message": "method not allowed"}']
        body = json.dumps(document).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return middleware
