"""The local gateway's pool hands idle workers to waiting invocations first come, first served."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wslocal.gateway.runtime import _IdleWorkers


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
