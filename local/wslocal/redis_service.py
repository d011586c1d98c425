"""A real Redis-compatible server as a service of the local stack, and the reference backend
keeping its session state there.

The server is the distribution's ``redis-server`` (or ``valkey-server``), run on 127.0.0.1 and
a port of the caller's choosing, without persistence (``--save ""``, no append-only file), its
working directory the stack's. Debian: ``apt-get install redis-server`` (``.ci/run`` does it
when the binary is missing)::

    with Stack(StackConfig(services=(redis_service(port),
                                     redis_backend_service(redis_url(port)),
                                     gateway_service()))) as stack: ...
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from wslocal.stack import Service, StackConfig, StackError, StackInfo, backend_service

__all__ = [
    "SERVER_BINARIES",
    "redis_backend_service",
    "redis_server_binary",
    "redis_service",
    "redis_url",
]

SERVER_BINARIES = ("redis-server", "valkey-server")


def redis_server_binary() -> str:
    """The path of redis-server or valkey-server; StackError when neither is installed."""
    for name in SERVER_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise StackError(
        "no Redis-compatible server: install one (Debian: apt-get install redis-server)"
    )


def redis_url(port: int, db: int = 0) -> str:
    return f"redis://127.0.0.1:{port}/{db}"


def redis_service(port: int, name: str = "redis") -> Service:
    """redis-server on 127.0.0.1:`port`, nothing written to disk; ready when the port accepts."""

    def argv(info: StackInfo) -> list[str]:
        return [
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(Path(info.workdir)),
        ]  # fmt: skip

    return Service(name, argv, lambda config: port, ready_timeout_seconds=15.0)


def redis_backend_service(
    url: str,
    sessions: Sequence[str] = ("lab-1:alice", "lab-1:bob"),
    *,
    name: str = "backend",
    port: int | None = None,
) -> Service:
    """The reference backend with ``--redis-url url``; another `name` and `port` run a second
    backend process beside the first (the stack's backend port otherwise)."""
    base = backend_service(sessions)

    def serving_port(config: StackConfig) -> int:
        return port if port is not None else base.port(config)

    def argv(info: StackInfo) -> list[str]:
        command = list(base.argv(info))
        if port is not None:
            command[command.index("--port") + 1] = str(port)
        return [*command, "--redis-url", url]

    return Service(name, argv, serving_port)
