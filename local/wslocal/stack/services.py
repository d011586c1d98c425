"""The processes the stack starts once Terraform has applied: a backend (the reference test
double, or the App Runner example's app) and the local gateway. Each factory returns a
``Service``; another process (a token issuer, say) gets its own module with its own factory
and is passed in ``StackConfig.services``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from wslocal.stack.config import Service, StackError, StackInfo

__all__ = [
    "DEFAULT_SESSIONS",
    "backend_service",
    "example_backend_service",
    "gateway_service",
    "key_refresh_seconds",
]

DEFAULT_SESSIONS = ("lab-1:alice", "lab-1:bob")


def key_refresh_seconds(info: StackInfo) -> int:
    """How often the deployed handler re-reads its signing key (examples/local's
    ``signing_key_refresh_seconds``): a backend re-reads its keys at least as often."""
    return int(info.config.variables.get("signing_key_refresh_seconds") or 300)


def _backend_command(module: str, info: StackInfo, sessions: Sequence[str]) -> list[str]:
    """``python -m <module>`` with what every local backend is given: its port, the table,
    the ``@connections`` URL, the signing secret (re-read as often as the handler reads it),
    the backend role examples/local outputs (push, query and read the signing key with the
    module's backend policy only) and the sessions."""
    command = [
        sys.executable, "-m", module,
        "--port", str(info.config.backend_port),
        "--table", info.outputs.table_name,
        "--callback-url", info.outputs.local_callback_url,
    ]  # fmt: skip
    signing_secret = info.outputs.backend_signing_secret_arn
    if signing_secret:
        command += ["--signing-secret-arn", signing_secret]
        command += ["--key-ttl-seconds", str(key_refresh_seconds(info))]
    role = info.outputs.raw.get("backend_role_arn")
    if role:
        command += ["--role-arn", str(role)]
    for session in sessions:
        command += ["--session", session]
    return command


def _topic_flags(info: StackInfo) -> list[str]:
    """The subscriptions table and the fan-out queue, when examples/local has the fan-out
    part (``fanout_enabled``)."""
    subscriptions = info.outputs.raw.get("subscriptions_table_name")
    if not subscriptions:
        return []
    flags = ["--subscriptions-table", str(subscriptions)]
    queue_url = info.outputs.raw.get("fanout_queue_url")
    return [*flags, "--fanout-queue-url", str(queue_url)] if queue_url else flags


def backend_service(sessions: Sequence[str] = DEFAULT_SESSIONS) -> Service:
    """The reference backend (`python -m wslocal.reference_backend`), a test double, with
    `sessions` as ``ID:USER``. It verifies the handler's request signatures when
    examples/local outputs ``backend_signing_secret_arn`` (re-reading the keys as often as the
    handler does), and runs with the role examples/local outputs as ``backend_role_arn`` (the
    module's backend policy). With examples/local's fan-out part (``fanout_enabled``) it
    also gets the subscriptions table and the queue: topics and broadcasts."""

    def argv(info: StackInfo) -> list[str]:
        return [*_backend_command("wslocal.reference_backend", info, sessions), *_topic_flags(info)]

    return Service("backend", argv, lambda config: config.backend_port)


def example_backend_service(redis_url: str, sessions: Sequence[str] = DEFAULT_SESSIONS) -> Service:
    """The App Runner example's app (``python -m wslocal.example_backend``) as the stack's
    backend: under uvicorn, with the environment App Runner gives it, the backend role's
    credentials, and the Redis at ``redis_url`` (``wslocal.redis_service``) as its session
    store, the members of `sessions` (``ID:USER``) written there first. examples/local must
    sign requests (the app refuses unsigned ones)."""

    def argv(info: StackInfo) -> list[str]:
        if not info.outputs.backend_signing_secret_arn:
            raise StackError("the example app verifies every request: keep request signing on")
        command = _backend_command("wslocal.example_backend", info, sessions)
        return [*command, "--redis-url", redis_url]

    return Service("backend", argv, lambda config: config.backend_port)


def gateway_service(extra_args: Sequence[str] = ()) -> Service:
    """The local WebSocket gateway (`python -m wslocal.gateway`) for the deployed API: clients
    on `gateway_port`, `@connections` on `connections_port`, the zips found in the directory of
    `package_path` (or the module's packages/)."""

    def argv(info: StackInfo) -> list[str]:
        config = info.config
        if config.package_path is not None:
            package_dir = Path(config.package_path).resolve().parent
        else:
            package_dir = config.repo_root / "packages"
        return [
            sys.executable,
            "-m",
            "wslocal.gateway",
            "--api-id",
            info.outputs.api_id,
            "--stage",
            info.outputs.stage_name,
            "--ws-port",
            str(config.gateway_port),
            "--http-port",
            str(config.connections_port),
            "--package-dir",
            str(package_dir),
            *extra_args,
        ]

    return Service("gateway", argv, lambda config: config.gateway_port)
