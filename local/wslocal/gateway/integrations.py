"""Invoking Lambda as API Gateway does: the function's resource policy first, then the
function in the route's pool, within the integration timeout (the function keeps running
past it).

Every invocation the gateway makes goes through `Integrations`: the authorizer, `$connect`,
messages and `$disconnect`. Another event source (an SQS event source mapping) would invoke
the same pools (`LambdaHost.pools`) beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from wslocal.gateway.control_plane import ApiDefinition, Route
from wslocal.gateway.policy import lambda_policy_allows
from wslocal.gateway.runtime import FunctionPool, Invocation, InvocationError
from wslocal.gateway.tasks import Tasks

__all__ = ["Integrations"]

log = logging.getLogger("wslocal.gateway")

# How long past the pool's own bound on waiting for a worker the gateway still waits.
_QUEUE_GRACE_SECONDS = 5.0


class _Started:
    """Sets a future once, the way `FunctionPool.invoke` sets its `started` signal."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class Integrations:
    """The API's functions, invoked from their pools with API Gateway's checks."""

    def __init__(self, api: ApiDefinition, pools: Mapping[str, FunctionPool], tasks: Tasks):
        self.api = api
        self._pools = pools
        self._tasks = tasks
        self._permissions: dict[tuple[str, str], bool] = {}

    def permitted(self, function_arn: str, source_arn: str) -> bool:
        """Whether the function's resource policy lets API Gateway invoke it for
        `source_arn` (decided once per pair, and logged when it does not)."""
        key = (function_arn, source_arn)
        if key not in self._permissions:
            function = self.api.functions[function_arn]
            allowed = lambda_policy_allows(
                function.policy, source_arn=source_arn, source_account=self.api.account_id
            )
            if not allowed:
                log.warning(
                    "API Gateway is not allowed to invoke %s for %s: no matching "
                    "lambda:InvokeFunction permission",
                    function.name,
                    source_arn,
                )
            self._permissions[key] = allowed
        return self._permissions[key]

    def invoke(
        self, function_arn: str, event: Mapping[str, Any], request_id: str
    ) -> asyncio.Task[Invocation]:
        """Invoke the function in the background: the task runs to its end even when the
        caller stops waiting for it."""
        return self._tasks.spawn(self._pools[function_arn].invoke(event, request_id))

    async def invoke_route(
        self, route: Route, event: Mapping[str, Any], request_id: str
    ) -> Invocation:
        """Invoke a route's integration as API Gateway does: permission check, then the
        function, within the integration timeout (the function keeps running past it)."""
        if route.integration_id is None:
            return Invocation(error=InvocationError("NoIntegration", "route has no integration"))
        integration = self.api.integrations[route.integration_id]
        if not self.permitted(integration.function_arn, self.api.route_arn(route.route_key)):
            return Invocation(error=InvocationError("AccessDenied", "invoke permission missing"))
        pool = self._pools[integration.function_arn]
        # A future, not an Event and a task waiting on it: one task less per message.
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = self._tasks.spawn(pool.invoke(event, request_id, _Started(started)))
        # Lambda would scale out instead of queueing: the integration timeout counts from
        # when a worker takes the invocation.
        # The pool bounds its own wait for a worker; this bound only guards against a
        # pool that never answers.
        waiting: set[asyncio.Future[Any]] = {task, started}
        try:
            await asyncio.wait(
                waiting,
                timeout=pool.queue_timeout + _QUEUE_GRACE_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            took = started.done()
            if not took:
                started.cancel()
        if not took and not task.done():
            log.warning("route %s: no worker took the invocation", route.route_key)
            return Invocation(error=InvocationError("TooManyRequestsException", "no worker"))
        try:
            async with asyncio.timeout(integration.timeout_ms / 1000):
                outcome: Invocation = await asyncio.shield(task)
        except TimeoutError:
            return Invocation(error=InvocationError("IntegrationTimeout", "integration timed out"))
        if outcome.error is not None:
            log.warning(
                "route %s: %s: %s", route.route_key, outcome.error.error_type, outcome.error.message
            )
        return outcome
