"""The local stack: emulator, JWT secret, Terraform, backend and gateway, started and stopped
as one.

``Stack`` is a context manager used by ``make demo``, ``make stack`` and the integration
tests::

    with Stack(StackConfig(services=(backend_service(), gateway_service()))) as stack:
        stack.outputs.api_id, stack.outputs.local_websocket_url, stack.jwt_secret ...

On entry it

1. starts the emulator (``python -m wslocal.emulator``) unless ``endpoint_url`` names one that
   already runs (a LocalStack, for example);
2. creates the HS256 signing secret in Secrets Manager;
3. applies ``examples/local`` where it is, as a user would (its ``source = "../../"`` is the
   root module, whatever files the root holds), with its own data directory
   (``TF_DATA_DIR``), state and variables in a temporary working directory: ``terraform
   init`` (with ``-plugin-dir=$TF_PROVIDER_MIRROR`` when that directory exists; it writes
   the dependency lock file next to the configuration, which git ignores) and ``terraform
   apply``;
4. reads the outputs and starts the services (the backend, the gateway) with them.

On exit, even after an error or KeyboardInterrupt, it stops the services, runs ``terraform
destroy``, stops the emulator, copies the logs to ``StackConfig.logs_dir`` when set and
removes the directory. Every child runs in its own process group, which is terminated and
then killed after a bounded wait; children also receive SIGTERM if this process dies first.
Every wait is bounded.

Children get ``AWS_ENDPOINT_URL``, a region and fake credentials in their environment, and
``PYTHONPATH`` with ``lambda/``, ``local/`` and ``sdk/python/src``: AWS endpoints always come from
``AWS_ENDPOINT_URL``. ``WEBSOCKETS_MAX_LINE_LENGTH`` lets the gateway read request lines and
headers up to API Gateway's ~10 KB (websockets' own limit is 8 KB).

One module per job:

- ``config``     what the stack is told and what Terraform tells it (dataclasses)
- ``ports``      port probes that bind as the services do, and the choice of ports
- ``processes``  child processes: process groups, bounded stops, die-with-parent
- ``interrupts`` SIGTERM unwinds like Ctrl-C; patience during teardown
- ``terraform``  the ``terraform`` runs on examples/local, with the stack's own state
- ``services``   the backend (reference or example app) and gateway ``Service`` factories
- ``lifecycle``  ``Stack``: start in order, close in reverse
- ``cli``        ``python -m wslocal.stack`` (``make stack``)
"""

from wslocal.stack.config import (
    EXAMPLE,
    FAKE_CREDENTIALS,
    MAX_HTTP_LINE_BYTES,
    REPO_ROOT,
    Service,
    StackConfig,
    StackError,
    StackInfo,
    StackOutputs,
    provider_mirror,
)
from wslocal.stack.lifecycle import Stack, save_logs
from wslocal.stack.ports import (
    PortTaken,
    choose_ports,
    distinct_free_ports,
    free_port,
    port_accepts,
    port_is_free,
)
from wslocal.stack.processes import ManagedProcess, kill_group
from wslocal.stack.services import (
    DEFAULT_SESSIONS,
    backend_service,
    example_backend_service,
    gateway_service,
)

__all__ = [
    "DEFAULT_SESSIONS",
    "EXAMPLE",
    "FAKE_CREDENTIALS",
    "MAX_HTTP_LINE_BYTES",
    "REPO_ROOT",
    "ManagedProcess",
    "PortTaken",
    "Service",
    "Stack",
    "StackConfig",
    "StackError",
    "StackInfo",
    "StackOutputs",
    "backend_service",
    "choose_ports",
    "distinct_free_ports",
    "example_backend_service",
    "free_port",
    "gateway_service",
    "kill_group",
    "port_accepts",
    "port_is_free",
    "provider_mirror",
    "save_logs",
]
