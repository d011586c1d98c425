"""Run a gateway on its own event loop in a background thread, for synchronous callers
(tests, scripts)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import boto3

from wslocal.gateway.server import Gateway
from wslocal.gateway.settings import GatewaySettings

__all__ = ["GatewayThread"]

T = TypeVar("T")


class GatewayThread:
    """`with GatewayThread(settings) as gateway:` starts the gateway and returns it once it
    listens (start-up errors are raised here); leaving the block stops it."""

    def __init__(
        self, settings: GatewaySettings, *, session: boto3.session.Session | None = None
    ) -> None:
        self.gateway = Gateway(settings, session=session)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="wslocal-gateway", daemon=True)
        self._started = False

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the gateway's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def start(self, timeout: float = 120.0) -> Gateway:
        self._thread.start()
        self._started = True
        try:
            self.call(self.gateway.start(), timeout)
        except BaseException:
            self._shutdown()
            raise
        return self.gateway

    def stop(self, timeout: float = 60.0) -> None:
        if not self._started:
            return
        try:
            self.call(self.gateway.stop(), timeout)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._started = False

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
