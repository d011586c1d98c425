"""The local gateway's pool hands idle workers to waiting invocations first come, first served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from wslocal.gateway.control_plane import LambdaFunction
from wslocal.gateway.runtime import FunctionPool, _IdleWorkers


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_worker_put_back_goes_to_the_longest_waiter_not_to_a_later_arrival() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        idle = _IdleWorkers()
        served: list[tuple[str, Any]] = []

        async def invocation(name: str) -> None:
            served.append((name, await idle.get()))

        first = asyncio.create_task(invocation("first"))
        await _settle()  # first waits: no idle worker
        later = asyncio.create_task(invocation("later"))  # scheduled, not yet run
        idle.put("worker-1")  # then a worker comes back, before either runs
        await _settle()
        assert served == [("first", "worker-1")]  # later did not overtake the waiter
        assert not later.done()
        idle.put("worker-2")
        await asyncio.wait_for(asyncio.gather(first, later), 1)
        return served

    assert asyncio.run(scenario()) == [("first", "worker-1"), ("later", "worker-2")]


def test_a_waiter_cancelled_after_being_handed_a_worker_passes_it_on() -> None:
    async def scenario() -> object:
        idle = _IdleWorkers()
        first = asyncio.create_task(idle.get())
        second = asyncio.create_task(idle.get())
        await _settle()
        idle.put("worker")  # handed to first...
        first.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        return await asyncio.wait_for(second, 1)

    assert asyncio.run(scenario()) == "worker"


def test_a_waiter_that_timed_out_leaves_the_line() -> None:
    async def scenario() -> object:
        idle = _IdleWorkers()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await idle.get()
        assert not idle._waiters  # the line holds nobody
        idle.put("worker")  # nobody waits: it stays idle
        async with asyncio.timeout(1):
            return await idle.get()

    assert asyncio.run(scenario()) == "worker"


def test_take_all_empties_the_idle_workers() -> None:
    async def scenario() -> tuple[list[object], bool]:
        idle = _IdleWorkers()
        idle.put("a")
        idle.put("b")
        taken = idle.take_all()
        waiter = asyncio.create_task(idle.get())
        await _settle()
        waiting = not waiter.done()
        waiter.cancel()
        return list(taken), waiting

    assert asyncio.run(scenario()) == (["a", "b"], True)


class _FakeProcess:
    pid = 4242
    returncode = None

    async def wait(self) -> int:
        return 0


class _FakeWorker:
    """A worker that says which environment (generation) it was started with."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.process = _FakeProcess()
        self.calls = 0
        self.stopped = False

    async def call(self, payload: bytes, timeout: float) -> dict[str, Any]:
        self.calls += 1
        return {"result": {"generation": self.generation}}

    def kill(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True


def test_a_worker_handed_over_before_new_credentials_arrive_is_retired_not_used(
    tmp_path: Path,
) -> None:
    function = LambdaFunction(
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        name="f",
        handler="h.handler",
        runtime="python3.12",
        timeout_seconds=3,
        memory_mb=128,
        environment={},
        code_sha256="",
        policy=None,
    )

    async def scenario() -> tuple[Any, _FakeWorker]:
        pool = FunctionPool(
            function, task_root=tmp_path, runtime_dir=tmp_path, environment={}, size=1
        )
        old = _FakeWorker(0)
        pool._workers.add(old)  # busy elsewhere: the next invocation waits for it

        async def spawn() -> _FakeWorker:
            worker = _FakeWorker(pool._generation)
            pool._workers.add(worker)
            return worker

        pool._spawn = spawn  # type: ignore[method-assign]
        waiting = asyncio.create_task(pool.invoke({}, "r-1"))
        await _settle()
        pool._idle.put(old)  # the worker comes back and is handed to the waiter...
        pool.set_environment({"AWS_SESSION_TOKEN": "new"})  # ...new credentials, before it runs
        invocation = await asyncio.wait_for(waiting, 2)
        await pool.stop()
        return invocation.result, old

    result, old = asyncio.run(scenario())
    assert result == {"generation": 1}  # ran on a worker started with the new environment
    assert (old.calls, old.stopped) == (0, True)
