"""moto's request authorization, wrapped: IAM as AWS decides it for the keys the emulator
issues, the fixed admin keys served as moto serves them.

moto can evaluate IAM itself (`INITIAL_NO_AUTH_ACTION_COUNT`), but for every caller, the
admin keys Terraform and the tests use included, and without resources, conditions, KMS,
trust or resource policies. `install()` replaces its hook, in this process only:

- a request signed with a key the emulator issued (an IAM user's key, `sts:AssumeRole`
  credentials): expired credentials are refused (`ExpiredTokenException`), the SigV4
  request is checked (sigv4.py: host signed, 15-minute skew), the signature with moto's
  `IAMRequest`, then every authorization of the call (authorize.py), or the call is
  refused with the error AWS answers, naming the action, the resource and why; an operation
  the tables do not know is refused too (`AccessDeniedException`), saying so;
- `sts:AssumeRole` with the admin keys: the role's trust policy is read, the admin keys
  standing for the account's root and for the AWS services the local tools play (Lambda
  for the gateway's workers): a trust policy that allows neither refuses them;
- any other request with the admin keys: as moto serves it.

Every refusal is logged at WARNING (`wslocal.emulator`), so a failing local run names the
denied action.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.utils import get_service_model

from wslocal.emulator.iam.authorize import Caller, Denied, authorize, request_context
from wslocal.emulator.iam.conditions import PolicyError
from wslocal.emulator.iam.moto_state import IssuedKey, MotoLookup, issued_key
from wslocal.emulator.iam.policy import Principal, Request, ResourcePolicy, decide, statements
from wslocal.emulator.iam.resources import Call, InvalidRequest, UnmappedRequest
from wslocal.emulator.iam.sigv4 import SignatureProblem, check_signed_request, header

__all__ = ["caller_of", "install", "service_prefix"]

log = logging.getLogger("wslocal.emulator")
_MARK = "_wslocal_iam"
# Signing names whose IAM prefix differs.
_IAM_PREFIXES = {"monitoring": "cloudwatch"}


def service_prefix(signing_name: str) -> str:
    return _IAM_PREFIXES.get(signing_name, signing_name)


def _request_params(response: Any) -> dict[str, Any]:
    """The request's parameters: its JSON body (JSON protocols), else its query or form."""
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


def caller_of(
    issued: IssuedKey, region: str, source_ip: str | None, user_agent: str | None
) -> Caller:
    """The issued key's principal, its policies now, and its requests' global keys."""
    principal = issued.principal
    return Caller(
        principal,
        issued.identity_policies(),
        request_context(
            principal,
            region=region,
            source_ip=source_ip,
            user_agent=user_agent,
            principal_tags=issued.tags,
            user_id=issued.user_id,
            temporary=issued.temporary,
        ),
    )


def _admin_may_assume(role_arn: str) -> Denied | None:
    """A trust policy's answer to the admin keys (the account's root, or an AWS service it
    names), None when it lets them assume the role."""
    role = MotoLookup().role(role_arn)
    if role is None or role.trust_policy is None:
        return None  # moto answers NoSuchEntity itself
    candidates = [Principal(f"arn:aws:iam::{role.account}:root", role.account)]
    try:
        for statement in statements(role.trust_policy):
            services = statement.get("Principal") or {}
            if isinstance(services, dict):
                named = services.get("Service", [])
                for service in named if isinstance(named, list) else [named]:
                    candidates.append(Principal(str(service), service=True))
        trust = ResourcePolicy(
            role.trust_policy, role.account, required=True, label="role trust policy"
        )
        for principal in candidates:
            request = Request(principal, "sts:AssumeRole", role.arn, {})
            if decide(request, [], trust).allowed:
                return None
    except PolicyError as error:
        return Denied(400, "MalformedPolicyDocument", str(error))
    return Denied(
        403,
        "AccessDenied",
        f"User: admin is not authorized to perform: sts:AssumeRole on resource: {role.arn}: "
        "its trust policy allows neither the account nor an AWS service",
    )


def _authorize_issued(response: Any, iam_request_cls: type, issued: IssuedKey) -> None:
    if issued.expires is not None and issued.expires <= datetime.now(UTC):
        raise Denied(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        )
    signed = check_signed_request(response.headers)
    path = response.raw_path
    if getattr(response, "uri", "") and "?" in response.uri:
        path += "?" + response.uri.split("?", 1)[1]
    operation = response._get_action()
    iam_request = iam_request_cls(
        account_id=issued.account,
        method=response.method,
        path=path,
        # The payload signed: the body, or for a form POST the parameters moto parsed from
        # it. A GET's parameters are in its query string, already part of `path`.
        data={} if response.method in {"GET", "HEAD", "DELETE"} else response.data,
        body=response.raw_body,
        headers=response.headers,
        action=operation,
    )
    iam_request.check_signature()
    request = getattr(response, "normalized_request", None)
    caller = caller_of(
        issued,
        signed.region,
        getattr(request, "remote_addr", None),
        header(response.headers, "User-Agent"),
    )
    call = Call(
        service_prefix(signed.service),
        operation,
        _request_params(response),
        signed.region,
        issued.account,
    )
    authorize(caller, call, MotoLookup(), json_protocol=_json_protocol(response))


def _json_protocol(response: Any) -> bool:
    """Whether the service answers errors in JSON (json and rest-json protocols)."""
    if response.headers.get("X-Amz-Target") or "json" in str(
        response.headers.get("Content-Type", "")
    ):
        return True
    try:
        protocol = get_service_model(response.boto3_service_name).protocol
    except Exception:  # noqa: BLE001 - a service moto names differently: its headers decide
        return False
    return protocol in {"json", "rest-json"}


def _error(json_protocol: bool, status: int, error_type: str, message: str) -> _RESTError:
    """The error in the service's protocol: XML (query) services name it without the
    `Exception` suffix JSON services use (`ExpiredToken`, `ExpiredTokenException`)."""
    if not json_protocol:
        error_type = error_type.removesuffix("Exception")
    error = JsonRESTError(error_type, message) if json_protocol else _RESTError(error_type, message)
    error.code = status
    return error


def _wrap(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        key_id = _access_key_id(self.headers)
        issued = issued_key(key_id) if key_id else None
        json_protocol = _json_protocol(self)
        if issued is None:
            denied = None
            if self._get_action() == "AssumeRole" and isinstance(self.querystring, dict):
                role = _request_params(self).get("RoleArn")
                denied = _admin_may_assume(role) if isinstance(role, str) else None
            if denied is not None:
                log.warning("denied for %s: %s", key_id, denied.message)
                raise _error(json_protocol, denied.status, denied.error_type, denied.message)
            original(self, iam_request_cls, resource)  # the admin keys: as moto serves them
            return
        try:
            _authorize_issued(self, iam_request_cls, issued)
        except Denied as denied:
            log.warning("denied for %s: %s", key_id, denied.message)
            raise _error(json_protocol, denied.status, denied.error_type, denied.message) from None
        except SignatureProblem as problem:
            log.warning("refused for %s: %s", key_id, problem.message)
            raise _error(
                json_protocol, 403, problem.error_type(json_protocol), problem.message
            ) from None
        except UnmappedRequest as unmapped:
            log.warning("refused for %s: %s", key_id, unmapped)
            raise _error(json_protocol, 403, "AccessDeniedException", str(unmapped)) from None
        except InvalidRequest as invalid:
            raise _error(json_protocol, 400, "ValidationException", str(invalid)) from None
        except PolicyError as malformed:
            log.warning("refused for %s: %s", key_id, malformed)
            raise _error(json_protocol, 400, "MalformedPolicyDocument", str(malformed)) from None
        except _RESTError as error:  # moto's signature and key errors, in XML
            if json_protocol and not isinstance(error, JsonRESTError):
                raise error.to_json() from None
            raise

    return authorize_action


def _access_key_id(headers: Any) -> str | None:
    authorization = headers.get("Authorization", "") or ""
    marker = "Credential="
    if marker not in authorization:
        return None
    return str(authorization.split(marker, 1)[1].split("/", 1)[0]) or None


def install() -> None:
    """Decide IAM for the keys the emulator issues, in this process. Idempotent."""
    if getattr(ActionAuthenticatorMixin, _MARK, False):
        return
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _wrap(  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_action
    )
    setattr(ActionAuthenticatorMixin, _MARK, True)
