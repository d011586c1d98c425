"""The Lambda host: the deployed functions of one API, ready to invoke.

It finds each function's zip and its layers' zips by `CodeSha256` under the package
directories, unpacks each package once and each list of layers once (in the function's
order, as Lambda fills `/opt`), builds the Lambda environment (the function's variables,
Lambda's reserved ones, the gateway's additions, the function role's temporary credentials)
and starts a pool of warm workers per function (`runtime.FunctionPool`). The roles are
assumed again before their credentials expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import boto3

from wslocal.gateway.control_plane import ApiDefinition, LambdaFunction, LambdaLayer
from wslocal.gateway.credentials import CredentialsError, RoleCredentials, assume_role
from wslocal.gateway.packages import (
    PackageError,
    extract_package,
    layer_paths,
    make_opt_dir,
    make_runtime_dir,
    packages_for,
)
from wslocal.gateway.runtime import FunctionPool, WorkerStartError, lambda_environment

__all__ = ["HostError", "HostSettings", "LambdaHost"]

log = logging.getLogger("wslocal.gateway")


class HostError(Exception):
    """The functions cannot be run; the message says why."""


@dataclass(frozen=True)
class HostSettings:
    package_dirs: Sequence[Path]
    workers: int = 2
    queue_timeout: float | None = None
    worker_environment: Mapping[str, str] = field(default_factory=dict)
    function_credentials: Literal["role", "gateway"] = "role"
    credentials_refresh_seconds: float = 45 * 60.0
    # Added to each function's environment unless the function sets it.
    extra_environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Unpacked:
    """Where the packages were unpacked: the task root of each function zip, the /opt of each
    list of layers, and the runtime directory they share."""

    zips: Mapping[str, Path]
    layer_keys: Mapping[str, str]
    runtime_dir: Path
    task_roots: dict[Path, Path] = field(default_factory=dict)
    opts: dict[tuple[Path, ...], Path] = field(default_factory=dict)

    def for_function(self, function: LambdaFunction) -> tuple[Path, list[Path]]:
        """The function's task root and the paths its layers add."""
        stack = tuple(self.zips[self.layer_keys[layer.arn]] for layer in function.layers)
        paths = layer_paths(self.opts[stack], function.runtime) if stack else []
        return self.task_roots[self.zips[function.name]], paths


class LambdaHost:
    """The functions of `api`, each in its own pool: `pools[function_arn].invoke(...)`."""

    def __init__(
        self,
        api: ApiDefinition,
        settings: HostSettings,
        *,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        self._boto_session = session
        self.pools: dict[str, FunctionPool] = {}
        self._credentials: dict[str, RoleCredentials] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._workdir: Path | None = None

    @property
    def pids(self) -> list[int]:
        return [pid for pool in self.pools.values() for pid in pool.pids]

    async def start(self) -> None:
        """Unpack, assume the roles, start the workers. Raises HostError."""
        api = self.api
        settings = self.settings
        unpacked = await self._unpack()
        if settings.function_credentials == "role":
            try:
                issued = await asyncio.gather(
                    *(
                        assume_role(self._boto_session, fn.role, fn.name)
                        for fn in api.functions.values()
                    )
                )
            except CredentialsError as exc:
                raise HostError(str(exc)) from exc
            self._credentials = dict(zip(api.functions, issued, strict=True))
        for arn, function in api.functions.items():
            task_root, paths = unpacked.for_function(function)
            environment = lambda_environment(
                function,
                region=api.region,
                task_root=task_root,
                runtime_dir=unpacked.runtime_dir,
                extra=settings.extra_environment,
                overrides=settings.worker_environment,
                credentials=(
                    self._credentials[arn].environment() if arn in self._credentials else None
                ),
            )
            self.pools[arn] = FunctionPool(
                function,
                task_root=task_root,
                runtime_dir=unpacked.runtime_dir,
                environment=environment,
                size=max(settings.workers, self._mapped_concurrency(arn)),
                layer_paths=paths,
                queue_timeout=settings.queue_timeout,
            )
        try:
            await asyncio.gather(*(pool.start() for pool in self.pools.values()))
        except WorkerStartError as exc:
            raise HostError(str(exc)) from exc
        if self._credentials:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_credentials())

    async def _unpack(self) -> _Unpacked:
        """Find each function's zip and its layers' zips, and unpack each zip once (each list
        of layers once, in its order). Raises HostError."""
        functions = list(self.api.functions.values())
        wanted = {fn.name: fn.code_sha256 for fn in functions}
        users: dict[LambdaLayer, list[str]] = {}
        for fn in functions:
            for layer in fn.layers:
                names = users.setdefault(layer, [])
                if fn.name not in names:
                    names.append(fn.name)
        # A layer's zip is looked up under a key that names it in a start-up error.
        layer_keys = {
            layer.arn: f"layer {layer.arn} of {' and '.join(names)}"
            for layer, names in users.items()
        }
        wanted.update({layer_keys[layer.arn]: layer.code_sha256 for layer in users})
        try:
            zips = await asyncio.to_thread(
                packages_for, wanted, [Path(d) for d in self.settings.package_dirs]
            )
        except PackageError as exc:
            raise HostError(str(exc)) from exc
        self._workdir = Path(tempfile.mkdtemp(prefix="wslocal-gateway-"))
        stacks = {tuple(zips[layer_keys[layer.arn]] for layer in fn.layers) for fn in functions}
        try:
            unpacked = _Unpacked(zips, layer_keys, make_runtime_dir(self._workdir / "runtime"))
            for index, package in enumerate(sorted(set(zips[fn.name] for fn in functions))):
                unpacked.task_roots[package] = await asyncio.to_thread(
                    extract_package, package, self._workdir / f"task{index}"
                )
            for index, stack in enumerate(sorted(s for s in stacks if s)):
                unpacked.opts[stack] = await asyncio.to_thread(
                    make_opt_dir, stack, self._workdir / f"opt{index}"
                )
        except PackageError as exc:
            raise HostError(str(exc)) from exc
        return unpacked

    def _mapped_concurrency(self, function_arn: str) -> int:
        """The invocations the function's event source mappings may run at once: its pool
        holds at least that many workers (each mapping's maximum concurrency)."""
        reserved = self.api.functions[function_arn].reserved_concurrency
        return sum(
            m.concurrency(reserved)
            for m in self.api.event_sources
            if m.function_arn == function_arn
        )

    def credentials(self, function_arn: str) -> RoleCredentials | None:
        """The function role's current credentials (None: the gateway's own are used)."""
        return self._credentials.get(function_arn)

    async def _refresh_credentials(self) -> None:
        """Assume each function's role again before its credentials expire; new
        invocations run with the fresh ones (workers are replaced)."""
        while True:
            await asyncio.sleep(self.settings.credentials_refresh_seconds)
            for arn, pool in list(self.pools.items()):
                function = self.api.functions[arn]
                try:
                    fresh = await assume_role(self._boto_session, function.role, function.name)
                except CredentialsError as exc:
                    log.error("%s; the function keeps its current credentials", exc)
                    continue
                self._credentials[arn] = fresh
                pool.set_environment({**pool.environment, **fresh.environment()})

    async def stop(self) -> None:
        """Stop every worker and remove the unpacked packages."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        pools = list(self.pools.values())
        self.pools.clear()
        await asyncio.gather(*(pool.stop() for pool in pools), return_exceptions=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
