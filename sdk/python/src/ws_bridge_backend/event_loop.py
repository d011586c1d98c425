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
import os
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["FEED_SLICE", "INHERITED", "Feed", "LoopThread"]

FEED_SLICE = 256  # items read from an iterable at a time (a DynamoDB page holds more)


# What a forked child inherits of its parent's loops (and the sessions on them, see
# ws_bridge_backend.connections_api): kept referenced and never closed in the child. Closing
# a loop, or letting the collector close it, unregisters its sockets and its wake-up pipe
# from the epoll instance parent and child share, and the parent's loop goes deaf.
INHERITED: list[object] = []
_LOOP_THREADS: weakref.WeakSet[LoopThread] = weakref.WeakSet()


class LoopThread:
    """An asyncio loop on a daemon thread named ``name``, with a pool of
    ``blocking_threads`` as its default executor for blocking calls. Thread-safe.
    :meth:`close` cancels what still runs there, awaits ``on_close`` on the loop (to close
    what lives there), then stops both; a later call starts anew. A process forked after
    the loop started starts its own at its first call."""

    def __init__(
        self,
        name: str,
        blocking_threads: int,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._name = name
        self._blocking_threads = blocking_threads
        self._on_close = on_close
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        _LOOP_THREADS.add(self)

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                pool = ThreadPoolExecutor(self._blocking_threads, f"{self._name}-blocking")
                loop.set_default_executor(pool)
                thread = threading.Thread(
                    target=_serve, args=(loop, self._on_close), name=self._name, daemon=True
                )
                thread.start()
                self._loop, self._pool, self._thread = loop, pool, thread
            return self._loop

    def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result or its exception
        (``concurrent.futures.CancelledError`` when :meth:`close` cancelled it)."""
        loop = self._started()
        if _running_loop() is loop:
            coroutine.close()
            raise RuntimeError("LoopThread.run called from its own loop: it would wait forever")
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # closed meanwhile
            coroutine.close()
            raise
        return future.result()

    @staticmethod
    async def blocking[T](call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on the running loop's pool, awaited from the loop."""
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    def close(self) -> None:
        """Cancel what runs on the loop, await ``on_close`` there, stop the loop and the
        pool; wait up to 5 s for that unless called from the loop's own thread."""
        with self._lock:
            loop, pool, thread = self._loop, self._pool, self._thread
            self._loop = self._pool = self._thread = None
        if loop is None or pool is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout=5)
        pool.shutdown(wait=False)

    def _forget_after_fork(self) -> None:
        """In a forked child: leave the parent's loop and pool alone, start anew."""
        INHERITED.extend(x for x in (self._loop, self._pool) if x is not None)
        self._loop = self._pool = self._thread = None
        self._lock = threading.Lock()  # a fork while another thread held it


def _after_fork_in_child() -> None:
    for loop_thread in list(_LOOP_THREADS):
        loop_thread._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _serve(loop: asyncio.AbstractEventLoop, on_close: Callable[[], Awaitable[None]] | None) -> None:
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(asyncio.sleep(0))  # what was handed over before the stop
            while tasks := asyncio.all_tasks(loop):  # cancelled: their callers hear of it
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            if on_close is not None:
                with contextlib.suppress(Exception):  # closing: what failed is closed anyway
                    loop.run_until_complete(on_close())
            loop.run_until_complete(loop.shutdown_asyncgens())
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

    def __init__(self, items: Iterable[T]) -> None:
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
        items, error = await LoopThread.blocking(_slice, rest)
        if error is not None or not items:
            self.error, self._rest = error, None
        self._buffer.extend(items)  # what was read before a failure is posted too
        self._reading = None


def _slice[T](rest: Iterator[T]) -> tuple[list[T], Exception | None]:
    """Up to FEED_SLICE items, and the exception that ended the reading, if any."""
    items: list[T] = []
    try:
        for item in rest:
            items.append(item)
            if len(items) == FEED_SLICE:
                break
    except Exception as exc:  # noqa: BLE001 - the caller's iterable failed: kept for it
        return items, exc
    return items, None
