"""The gateway's background tasks: work that outlives the coroutine that started it (an
invocation past the integration timeout, a server-side close), cancelled at stop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["Tasks"]


class Tasks:
    """Tasks started with `spawn`, kept referenced until they end (asyncio keeps only weak
    references), and cancelled together by `cancel_all`."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def spawn[T](self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def cancel_all(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
