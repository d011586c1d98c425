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

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from wslocal.stack import Service, StackConfig, StackError, StackInfo, backend_service

__all__ = [
    "SERVER_BINARIES",
    "local_redis",
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


@contextlib.contextmanager
def local_redis(workdir: Path, port: int | None = None) -> Iterator[str]:
    """A redis-server of its own on 127.0.0.1 (a free port unless given), nothing written
    to disk, for tests and tools outside a stack; its URL once it answers PING. StackError
    (saying how to install one) when there is no server binary."""
    import redis

    from wslocal.stack import free_port

    port = free_port() if port is None else port
    argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(workdir)]
    with (workdir / f"redis-{port}.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise StackError(f"redis-server did not start: see {log.name}") from None
                    time.sleep(0.05)
            yield redis_url(port)
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=10)


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
