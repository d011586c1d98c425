"""Warm worker processes that run one Lambda function's deployed code.

Each function gets a small pool of workers (`_worker.py`). A worker imports the handler
once and serves one invocation at a time; an invocation waits for a free worker, at most
`queue_timeout` (the function's Timeout by default), then fails as a throttled Lambda
invocation does. A worker that outlives the function's Timeout is killed and replaced, as
is one that crashes; the invocation then fails as it would on Lambda. A replacement that
cannot start is retried with backoff a bounded number of times; the next invocation that
finds the pool short starts the replacement again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import struct
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from wslocal.gateway.control_plane import LambdaFunction

__all__ = [
    "WORKER_SCRIPT",
    "FunctionPool",
    "Invocation",
    "InvocationError",
    "WorkerStartError",
    "lambda_environment",
]

log = logging.getLogger("wslocal.gateway")

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_HEADER = struct.Struct("!I")
_PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_STOP_GRACE_SECONDS = 3.0
RESPAWN_ATTEMPTS = 5
_RESPAWN_FIRST_DELAY = 0.5
_RESPAWN_MAX_DELAY = 5.0


class _Signal(Protocol):
    """What `FunctionPool.invoke` sets when a worker takes the invocation (an Event, or
    anything with its `set`)."""

    def set(self) -> None: ...


class WorkerStartError(Exception):
    """A worker process could not be started."""


@dataclass(frozen=True)
class InvocationError:
    error_type: str
    message: str


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation: the handler's return value, or an error."""

    result: Any = None
    error: InvocationError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def lambda_environment(
    function: LambdaFunction,
    *,
    region: str,
    task_root: Path,
    runtime_dir: Path,
    extra: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    credentials: Mapping[str, str] | None = None,
    parent: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment Lambda gives `function`: its own variables, Lambda's reserved ones,
    and, from this process, fake credentials and the `AWS_ENDPOINT_URL*` overrides that
    point its SDK calls at the emulator. `extra` applies unless the function sets it;
    `overrides` apply over the function's variables (Lambda's reserved ones still win).
    `credentials` (the role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    `AWS_SESSION_TOKEN`) replace this process's own."""
    source = os.environ if parent is None else parent
    environment: dict[str, str] = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(
        {key: value for key, value in source.items() if key.startswith("AWS_ENDPOINT_URL")}
    )
    environment.update(extra or {})
    environment.update(function.environment)
    environment.update(overrides or {})
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    reserved = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout_seconds),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{secrets.token_hex(16)}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": function.handler,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    if credentials is None:
        reserved.update({key: source[key] for key in _PASSED_THROUGH if source.get(key)})
    else:
        reserved.update(credentials)
    environment.update(reserved)
    return environment


async def _read_frame(stream: asyncio.StreamReader) -> dict[str, Any]:
    (length,) = _HEADER.unpack(await stream.readexactly(_HEADER.size))
    document: dict[str, Any] = json.loads(await stream.readexactly(length))
    return document


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, generation: int = 0) -> None:
        self.process = process
        self.generation = generation  # the pool's environment it started with
        self.init_error: InvocationError | None = None

    async def call(self, payload: bytes, timeout: float) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        async with asyncio.timeout(timeout):
            stdin.write(_HEADER.pack(len(payload)) + payload)
            await stdin.drain()
            return await _read_frame(stdout)

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        """Close stdin (the worker exits at end of input), then kill if it lingers."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            async with asyncio.timeout(_STOP_GRACE_SECONDS):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()


class _IdleWorkers:
    """Idle workers, handed to the invocations waiting for one first come, first served.

    ``asyncio.Queue`` is not fair that way: a worker put back wakes the longest waiter, but an
    invocation that calls ``get`` before that waiter runs takes the worker, and the waiter
    queues again at the back. Under load (make bench: 500 connections, 8 workers) that happens
    all the time, and a few invocations waited many times the mean: a p99 in seconds. Here a
    worker put back goes straight to the first waiter, which no later arrival can overtake.
    """

    def __init__(self) -> None:
        self._workers: deque[_Worker] = deque()
        self._waiters: deque[asyncio.Future[_Worker]] = deque()

    def put(self, worker: _Worker) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._workers.append(worker)

    async def get(self) -> _Worker:
        if self._workers:  # idle workers mean nobody is waiting
            return self._workers.popleft()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.put(waiter.result())  # handed a worker, then cancelled: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def take_all(self) -> list[_Worker]:
        workers = list(self._workers)
        self._workers.clear()
        return workers


class _NoWorker(Exception):
    """No worker takes the invocation: its answer is the error carried."""

    def __init__(self, error: InvocationError) -> None:
        super().__init__(error.message)
        self.invocation = Invocation(error=error)


class FunctionPool:
    """`size` warm workers for one function. `layer_paths` are the folders of its unpacked
    layers that go on `sys.path` between the package and the runtime's packages.
    An invocation waits at most `queue_timeout` seconds for a free worker (default: the
    function's Timeout)."""

    def __init__(
        self,
        function: LambdaFunction,
        *,
        task_root: Path,
        runtime_dir: Path,
        environment: Mapping[str, str],
        size: int,
        layer_paths: Sequence[Path] = (),
        init_timeout: float = 10.0,
        queue_timeout: float | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.function = function
        self.task_root = task_root
        self.runtime_dir = runtime_dir
        self.layer_paths = tuple(layer_paths)
        self.environment = dict(environment)
        self.size = size
        self.init_timeout = init_timeout
        self.queue_timeout = (
            float(function.timeout_seconds) if queue_timeout is None else queue_timeout
        )
        self._idle = _IdleWorkers()
        self._workers: set[_Worker] = set()
        self._respawns: set[asyncio.Task[None]] = set()
        self._retiring: set[asyncio.Task[None]] = set()
        self._generation = 0
        self._stopping = False

    def set_environment(self, environment: Mapping[str, str]) -> None:
        """Run new invocations with `environment` (fresh credentials): idle workers are
        replaced now, busy ones when their invocation ends."""
        self.environment = dict(environment)
        self._generation += 1
        for worker in self._idle.take_all():
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        """Stop `worker` gracefully and start its replacement."""
        self._workers.discard(worker)

        async def retire() -> None:
            await worker.stop()
            if not self._stopping:
                self._schedule_respawn(None)

        task = asyncio.get_running_loop().create_task(retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers if w.process.returncode is None]

    async def start(self) -> None:
        workers = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), return_exceptions=True
        )
        failures = [w for w in workers if isinstance(w, BaseException)]
        if failures:
            await self.stop()
            raise failures[0]
        for worker in workers:
            assert isinstance(worker, _Worker)
            self._idle.put(worker)

    async def _spawn(self) -> _Worker:
        name = self.function.name
        generation = self._generation  # of self.environment, read before the await below
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                str(WORKER_SCRIPT),
                str(self.task_root),
                str(self.runtime_dir),
                self.function.handler,
                self.function.arn,
                *(str(path) for path in self.layer_paths),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=self.environment,
                cwd=str(self.task_root),
            )
        except OSError as exc:
            raise WorkerStartError(f"{name}: cannot start a worker: {exc}") from exc
        worker = _Worker(process, generation)
        self._workers.add(worker)
        assert process.stdout is not None
        try:
            async with asyncio.timeout(self.init_timeout):
                ready = await _read_frame(process.stdout)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self._workers.discard(worker)
            worker.kill()
            await process.wait()
            raise WorkerStartError(f"{name}: worker did not come up ({exc!r})") from exc
        if not ready.get("ready"):
            error = ready.get("error") or {}
            worker.init_error = InvocationError(
                str(error.get("errorType", "Runtime.Unknown")), str(error.get("errorMessage", ""))
            )
            log.warning(
                "function %s failed to initialise: %s: %s",
                name,
                worker.init_error.error_type,
                worker.init_error.message,
            )
        return worker

    async def invoke(
        self,
        event: Mapping[str, Any],
        request_id: str,
        started: _Signal | None = None,
    ) -> Invocation:
        """Run the handler on `event` in a free worker, within the function's Timeout.
        `started` is set when a worker takes the invocation (or it fails without one)."""
        try:
            worker = await self._take_worker()
        except _NoWorker as refused:
            return refused.invocation
        finally:
            if started is not None:
                started.set()
        return await self._run(worker, event, request_id)

    async def _take_worker(self) -> _Worker:
        """An idle worker of the current environment, or _NoWorker (stopping, throttled)."""
        if self._stopping:
            raise _NoWorker(InvocationError("Runtime.Unavailable", "gateway stopping"))
        self._replenish()
        try:
            async with asyncio.timeout(self.queue_timeout):
                worker = await self._idle.get()
                # A worker handed over before set_environment ran, but taken after: retired
                # like the idle ones, so no invocation runs with the old environment.
                while worker.generation != self._generation:
                    self._retire(worker)
                    worker = await self._idle.get()
        except TimeoutError:
            log.warning(
                "function %s: no free worker within %.2f s; the invocation is throttled",
                self.function.name,
                self.queue_timeout,
            )
            raise _NoWorker(InvocationError("TooManyRequestsException", "Rate Exceeded.")) from None
        return worker

    async def _run(self, worker: _Worker, event: Mapping[str, Any], request_id: str) -> Invocation:
        """One invocation on `worker`; the worker goes back idle, or is replaced when it timed
        out, died or was cancelled mid-invocation."""
        timeout = float(self.function.timeout_seconds)
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        payload = json.dumps(
            {"event": event, "requestId": request_id, "deadlineMs": deadline_ms},
            separators=(",", ":"),
        ).encode()
        try:
            reply = await worker.call(payload, timeout)
        except TimeoutError:
            self._replace(worker)
            log.warning("function %s timed out after %.2f s", self.function.name, timeout)
            return Invocation(
                error=InvocationError(
                    "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds"
                )
            )
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            self._replace(worker)
            log.warning("function %s worker died during an invocation", self.function.name)
            return Invocation(
                error=InvocationError(
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited ({type(exc).__name__})",
                )
            )
        except BaseException:
            # Cancelled mid-invocation: the worker's state is unknown.
            self._replace(worker)
            raise
        if worker.generation != self._generation:
            self._retire(worker)
        else:
            self._idle.put(worker)
        if "error" in reply:
            error = reply["error"] or {}
            return Invocation(
                error=InvocationError(
                    str(error.get("errorType", "Error")), str(error.get("errorMessage", ""))
                )
            )
        return Invocation(result=reply.get("result"))

    def _replace(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        worker.kill()
        self._schedule_respawn(worker)

    def _replenish(self) -> None:
        """Start a replacement for each worker missing with none under way: one whose
        replacement gave up earlier is retried when an invocation needs the pool."""
        if self._stopping:
            return
        missing = self.size - len(self._workers) - len(self._respawns) - len(self._retiring)
        for _ in range(missing):
            self._schedule_respawn(None)

    def _schedule_respawn(self, old: _Worker | None) -> None:
        task = asyncio.get_running_loop().create_task(self._respawn(old))
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self, old: _Worker | None) -> None:
        if old is not None:
            await old.process.wait()
        delay = _RESPAWN_FIRST_DELAY
        for attempt in range(1, RESPAWN_ATTEMPTS + 1):
            if self._stopping:
                return
            try:
                self._idle.put(await self._spawn())
                return
            except WorkerStartError as exc:
                if attempt == RESPAWN_ATTEMPTS:
                    log.error(
                        "%s; giving up after %d attempts until the next invocation",
                        exc,
                        attempt,
                    )
                    return
                log.error("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RESPAWN_MAX_DELAY)

    async def stop(self) -> None:
        """Stop every worker; none is left running."""
        self._stopping = True
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for task in list(self._respawns):
            task.cancel()
        await asyncio.gather(*self._respawns, return_exceptions=True)
        workers = list(self._workers)
        self._workers.clear()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
