"""A local WebSocket gateway: API Gateway's data plane for a WebSocket API deployed into
an AWS emulator (moto or LocalStack), running the deployed Lambda packages.

It reads the API, routes, integrations, authorizers, route responses, stage, the
referenced functions and their resource policies from the control plane once, finds each
function's zip by `CodeSha256`, runs it in warm worker processes, and serves WebSocket
clients and the `@connections` management API. Run it with `python -m wslocal.gateway`
or in-process with `Gateway` (asyncio) or `GatewayThread` (synchronous callers).
"""

from wslocal.gateway.control_plane import ApiDefinition, ControlPlaneError, load_api
from wslocal.gateway.server import Gateway
from wslocal.gateway.settings import GatewayError, GatewaySettings
from wslocal.gateway.threaded import GatewayThread

__all__ = [
    "ApiDefinition",
    "ControlPlaneError",
    "Gateway",
    "GatewayError",
    "GatewaySettings",
    "GatewayThread",
    "load_api",
]
