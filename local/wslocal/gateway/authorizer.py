"""The REQUEST authorizer of `$connect`, as API Gateway runs it: identity sources present
(else 401 without calling it), the function's permission, the call within its time limit,
then its answer checked (principal, size, context values, the policy for the route) and
its context kept for the connection's events.

`authorize` answers None (allowed) or the HTTP status that refuses the handshake.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from wslocal.gateway.connections import Session
from wslocal.gateway.control_plane import ApiDefinition, Route
from wslocal.gateway.events import authorizer_event, new_request_id, now_ms
from wslocal.gateway.integrations import Integrations
from wslocal.gateway.policy import authorizer_policy_allows, primitive_context
from wslocal.gateway.runtime import Invocation, InvocationError

__all__ = ["AUTHORIZER_RESULT_MAX_BYTES", "Authorizer"]

log = logging.getLogger("wslocal.gateway")

AUTHORIZER_RESULT_MAX_BYTES = 8 * 1024


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _problem(result: Any) -> str | None:
    """What makes an authorizer's answer unusable (API Gateway answers 500), or None."""
    if not isinstance(result, dict) or "principalId" not in result:
        return "the answer has no principalId"
    if len(json.dumps(result, separators=(",", ":"))) > AUTHORIZER_RESULT_MAX_BYTES:
        return f"the answer exceeds {AUTHORIZER_RESULT_MAX_BYTES} bytes"
    if not primitive_context(result.get("context")):
        return "context values must be strings, numbers or booleans"
    return None


class Authorizer:
    """Runs the route's authorization for a connection in its handshake."""

    def __init__(self, api: ApiDefinition, integrations: Integrations, timeout: float) -> None:
        self.api = api
        self._integrations = integrations
        self._timeout = timeout

    def _identity_present(self, source: str, session: Session) -> bool:
        request = session.request
        if source.startswith("route.request.header."):
            return bool(request.header(source.removeprefix("route.request.header.")))
        if source.startswith("route.request.querystring."):
            return bool(request.query_parameter(source.removeprefix("route.request.querystring.")))
        if source.startswith("stageVariables."):
            return bool(self.api.stage_variables.get(source.removeprefix("stageVariables.")))
        return True

    async def authorize(self, session: Session, route: Route) -> int | None:
        """None when the connection may proceed to `$connect`; else the refusing status."""
        if route.authorization_type == "AWS_IAM":
            signed = (session.request.header("Authorization") or "").startswith("AWS4-HMAC-SHA256")
            return None if signed else 403
        if route.authorization_type != "CUSTOM" or route.authorizer_id is None:
            return None
        authorizer = self.api.authorizers[route.authorizer_id]
        if not all(self._identity_present(s, session) for s in authorizer.identity_sources):
            return 401
        source_arn = self.api.authorizer_arn(authorizer.authorizer_id)
        if not self._integrations.permitted(authorizer.function_arn, source_arn):
            return 500
        method_arn = self.api.route_arn("$connect")
        request_id = new_request_id()
        event = authorizer_event(session.info, session.request, method_arn, request_id, now_ms())
        started = time.monotonic()
        # As with an integration, the function keeps running past the limit.
        task = self._integrations.invoke(authorizer.function_arn, event, request_id)
        try:
            async with asyncio.timeout(self._timeout):
                outcome: Invocation = await asyncio.shield(task)
        except TimeoutError:
            outcome = Invocation(
                error=InvocationError("AuthorizerTimeout", "the authorizer did not answer")
            )
        latency_ms = int((time.monotonic() - started) * 1000)
        if outcome.error is not None:
            if outcome.error.message == "Unauthorized":
                return 401
            log.warning(
                "authorizer %s failed: %s: %s",
                authorizer.name,
                outcome.error.error_type,
                outcome.error.message,
            )
            return 500
        result = outcome.result
        problem = _problem(result)
        if problem is not None:
            log.warning("authorizer %s: %s", authorizer.name, problem)
            return 500
        assert isinstance(result, dict)
        if not authorizer_policy_allows(result.get("policyDocument"), method_arn):
            return 403
        context: dict[str, Any] = {
            str(k): _stringify(v) for k, v in (result.get("context") or {}).items()
        }
        context["principalId"] = _stringify(result["principalId"])
        context["integrationLatency"] = latency_ms
        session.info.authorizer = dict(context)
        return None
