"""The ``$connect`` REQUEST authorizer (handler string ``ws_bridge.authorizer.handler``).

Answers (docs/design.md, "Authorizer → handler context"):

* no token, or a token that fails verification → ``raise Exception("Unauthorized")``,
  API Gateway's documented way to answer 401;
* a valid token that is not allowed (two sources disagree, the ``sessionId`` query parameter
  contradicts the token, the source address is outside ``ALLOWED_SOURCE_CIDRS``) → Deny
  policy (403: fail closed);
* a fault while fetching the key (Secrets Manager, SSM or the JWKS endpoint unavailable) →
  :class:`KeyFetchError` raised, which API Gateway answers with 500: the client may retry
  later, and the token is not called wrong when it may be fine;
* otherwise Allow on the event's ``methodArn`` with context ``userId``, ``sessionId``,
  ``sessionSource`` and ``exp`` (the token's expiry, epoch seconds), all strings.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import jwt.algorithms

from ws_bridge import logs, metrics
from ws_bridge.events import claim_identifier
from ws_bridge.jwt_verifier import (
    Claims,
    InvalidTokenError,
    KeyUnavailableError,
    TokenVerifier,
    expires_at,
)
from ws_bridge.settings import AuthorizerSettings, SettingsError
from ws_bridge.token_sources import find_tokens, query_values

__all__ = ["Allow", "Deny", "KeyFetchError", "authorize", "handler", "policy"]

log = logs.get_logger("authorizer")


class KeyFetchError(Exception):
    """Raised out of the handler when the verification key cannot be had: any exception
    other than ``Exception("Unauthorized")`` makes API Gateway answer 500, not 401/403."""


# Named tuples, not dataclasses: a dataclass is built when the module is imported, which
# every cold start pays (docs/performance.md, "Authorizer cold start").
class Allow(NamedTuple):
    user_id: str
    session_id: str
    session_source: Literal["token", "query", ""]
    expires_at: int | None = None  # the token's exp, epoch seconds


class Deny(NamedTuple):
    reason: str
    user_id: str = ""


def _source_ip(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    value = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return value if isinstance(value, str) else None


def _source_allowed(settings: AuthorizerSettings, source_ip: str | None) -> bool:
    if not settings.allowed_source_cidrs:
        return True
    if source_ip is None:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(address in network for network in settings.allowed_source_cidrs)


def authorize(
    event: Mapping[str, Any], settings: AuthorizerSettings, verifier: TokenVerifier
) -> Allow | Deny:
    """Decide one ``$connect``; raises :class:`InvalidTokenError` for a 401."""
    if not _source_allowed(settings, _source_ip(event)):
        return Deny("source_ip_not_allowed")

    found = find_tokens(event)
    if not found:
        raise InvalidTokenError("missing")
    if len({item.token for item in found}) > 1:
        return Deny("conflicting_tokens")

    claims: Claims = verifier.verify(found[0].token)
    user_id = claim_identifier(claims.get(settings.user_claim))
    if user_id is None:
        raise InvalidTokenError("bad_user_claim")

    expires = expires_at(claims)  # checked by the verifier: in the future, a number

    token_session: str | None = None
    if settings.session_claim in claims:
        token_session = claim_identifier(claims[settings.session_claim])
        if token_session is None:
            raise InvalidTokenError("bad_session_claim")

    queried = query_values(event, "sessionId")
    if len(set(queried)) > 1:
        return Deny("conflicting_session_ids", user_id)
    query_session = queried[0] if queried else None
    if query_session is not None and claim_identifier(query_session) is None:
        return Deny("bad_session_id", user_id)

    if token_session is not None:
        if query_session is not None and query_session != token_session:
            return Deny("session_mismatch", user_id)
        return Allow(user_id, token_session, "token", expires)
    if query_session is not None:
        return Allow(user_id, query_session, "query", expires)
    return Allow(user_id, "", "", expires)


def policy(decision: Allow | Deny, method_arn: str) -> dict[str, Any]:
    """The authorizer answer API Gateway expects; context values are strings."""
    allow = isinstance(decision, Allow)
    answer: dict[str, Any] = {
        "principalId": decision.user_id or "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allow else "Deny",
                    "Resource": method_arn,
                }
            ],
        },
    }
    if isinstance(decision, Allow):
        answer["context"] = {
            "userId": decision.user_id,
            "sessionId": decision.session_id,
            "sessionSource": decision.session_source,
        }
        if decision.expires_at is not None:
            # Digits as a string: API Gateway may deliver context numbers as strings anyway.
            answer["context"]["exp"] = str(decision.expires_at)
    return answer


def _load_settings() -> AuthorizerSettings:
    settings = AuthorizerSettings.from_env()
    if not settings.uses_hmac and not jwt.algorithms.has_crypto:
        raise SettingsError(
            "JWT_ALGORITHMS lists asymmetric algorithms, which need cryptography: attach the "
            "jwt-crypto-layer-<runtime>-<arch>.zip layer to the authorizer"
        )
    return settings


# Read at cold start: a misconfigured function fails to start, with the reason in its log.
SETTINGS = _load_settings()
logs.configure(SETTINGS.log_level)


@functools.cache
def _verifier() -> TokenVerifier:
    return TokenVerifier(SETTINGS)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    event = event if isinstance(event, Mapping) else {}
    request = event.get("requestContext")
    request = request if isinstance(request, Mapping) else {}
    method_arn = event.get("methodArn")
    method_arn = method_arn if isinstance(method_arn, str) else ""

    def field(name: str) -> str | None:
        value = request.get(name)
        return value if isinstance(value, str) else None

    with (
        logs.invocation(
            context,
            connectionId=field("connectionId"),
            requestId=field("requestId"),
            routeKey=field("routeKey"),
        ),
        metrics.invocation(SETTINGS.metrics_namespace, SETTINGS.metrics_service),
    ):
        try:
            decision = authorize(event, SETTINGS, _verifier())
        except InvalidTokenError as exc:
            log.info("connect unauthorized", extra={"decision": "401", "reason": exc.reason})
            metrics.count("ConnectionsRefused", reason="unauthorized")
            # The exact message API Gateway turns into 401; the reason stays in our log.
            raise Exception("Unauthorized") from None
        except KeyUnavailableError as exc:
            log.error("verification key unavailable", extra={"decision": "500", "reason": str(exc)})
            raise KeyFetchError("verification key unavailable") from None
        except Exception:
            log.exception("authorizer failed", extra={"decision": "deny"})
            decision = Deny("internal_error")
        if isinstance(decision, Allow):
            log.info(
                "connect allowed",
                extra={
                    "decision": "allow",
                    "userId": decision.user_id,
                    "sessionId": decision.session_id,
                    "sessionSource": decision.session_source,
                },
            )
        else:
            log.info("connect denied", extra={"decision": "deny", "reason": decision.reason})
            metrics.count("ConnectionsRefused", reason=decision.reason)
        return policy(decision, method_arn)
