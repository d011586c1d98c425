"""An event loop on a thread of its own, for synchronous callers (the push).

``Pusher``'s methods are synchronous: a WSGI view, a worker thread or a script calls them
and waits. Their posts run as coroutines on a :class:`LoopThread`, an asyncio loop on a
daemon thread, with a thread pool beside it for the calls that block (boto3: the registry,
a client given by the caller). Both start at the first call, and again in a process forked
after that (a pre-forking server's workers: threads do not survive a fork).

:class:`Feed` hands the items of any iterable to the loop's tasks, one at a time: a list as
it is, anything else read in slices on the pool (a registry query pages through DynamoDB,
which would stall the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["FEED_SLICE", "Feed", "LoopThread"]

FEED_SLICE = 256  # items read from an iterable at a time (a DynamoDB page holds more)


class LoopThread:
    """An asyncio loop on a daemon thread named ``name``, and a pool of ``blocking_threads``
    for blocking calls. Thread-safe; :meth:`close` stops both (a later call starts anew)."""

    def __init__(self, name: str, blocking_threads: int) -> None:
        self._name = name
        self._blocking_threads = blocking_threads
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def _started(self) -> tuple[asyncio.AbstractEventLoop, ThreadPoolExecutor]:
        with self._lock:
            if self._loop is None or self._pool is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name=self._name, daemon=True)
                thread.start()
                self._pool = ThreadPoolExecutor(self._blocking_threads, f"{self._name}-blocking")
                self._loop, self._pid = loop, os.getpid()
            return self._loop, self._pool

    def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop; wait for its result (or its exception)."""
        loop, _ = self._started()
        if _running_loop() is loop:
            coroutine.close()
            raise RuntimeError("LoopThread.run called from its own loop: it would wait forever")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    async def blocking[T](self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on the pool, awaited from the loop."""
        _, pool = self._started()
        return await asyncio.get_running_loop().run_in_executor(pool, call, *args)

    def close(self, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run ``cleanup`` on the loop (closing what lives there), then stop the loop and
        the pool. Nothing to do when never started, or started in another process."""
        with self._lock:
            loop, pool, pid = self._loop, self._pool, self._pid
            self._loop = self._pool = None
        if loop is None or pool is None or pid != os.getpid():
            return

        async def clean() -> None:
            if cleanup is not None:
                with contextlib.suppress(Exception):  # closing: what failed is closed anyway
                    await cleanup()

        if _running_loop() is loop:  # collected on the loop's own thread: it cannot wait
            loop.create_task(clean()).add_done_callback(lambda _: loop.stop())
        else:
            with contextlib.suppress(Exception):  # a loop already stopped, or slow to close
                asyncio.run_coroutine_threadsafe(clean(), loop).result(timeout=5)
            with contextlib.suppress(RuntimeError):  # already closed
                loop.call_soon_threadsafe(loop.stop)
        pool.shutdown(wait=False)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Feed[T]:
    """The items of ``items`` for the tasks of one loop, each taken once. An exception
    raised while reading them ends the feed; it is kept in :attr:`error`."""

    def __init__(self, items: Iterable[T], loop_thread: LoopThread) -> None:
        self._loop_thread = loop_thread
        self._buffer: deque[T] = deque()
        self._rest: Iterator[T] | None = None
        if isinstance(items, list | tuple):
            self._buffer.extend(items)
        else:
            self._rest = iter(items)
        self._reading: asyncio.Task[None] | None = None
        self.error: Exception | None = None

    async def take(self) -> T | None:
        """The next item, or None once there is none left."""
        while not self._buffer:
            if self._rest is None:
                return None
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read(self._rest))
            await asyncio.shield(self._reading)  # one read, however many tasks wait for it
        return self._buffer.popleft()

    async def _read(self, rest: Iterator[T]) -> None:
        try:
            items = await self._loop_thread.blocking(_slice, rest)
        except Exception as exc:  # noqa: BLE001 - the caller's iterable failed: kept for it
            self.error, items = exc, []
        if not items:
            self._rest = None
        self._buffer.extend(items)
        self._reading = None


def _slice[T](rest: Iterator[T]) -> list[T]:
    return list(itertools.islice(rest, FEED_SLICE))
