"""The Python client as a drop loop driver (tests/session_standin/drop_loop.py): a
``SessionClient`` on its own event loop thread, driven from the test's thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ws_bridge_client import ClientError, Event, SessionClient, SessionSettings


class PythonDriver:
    def __init__(
        self, url: str, get_token: Callable[[str], str], settings: SessionSettings
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._delivered: list[tuple[int, dict[str, Any]]] = []
        self._replies: dict[str, Any] = {}
        self.events: list[Event] = []
        self._resumes = 0
        self.client = SessionClient(
            url,
            get_token=get_token,
            settings=settings,
            on_message=lambda seq, message: self._delivered.append((seq, message)),
            on_event=self._event,
        )

    def _event(self, event: Event) -> None:
        self.events.append(event)
        if event.kind == "resume" and event.detail["state"] in {"resumed", "resync_required"}:
            self._resumes += 1

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.call(self.client.connect())

    def request(self, message: dict[str, Any]) -> None:
        async def send() -> None:
            try:
                self._replies[message["id"]] = await self.client.send(message)
            except ClientError as err:
                self._replies[message["id"]] = err.code

        asyncio.run_coroutine_threadsafe(send(), self._loop)

    def delivered(self) -> list[tuple[int, dict[str, Any]]]:
        return list(self._delivered)

    def replies(self) -> dict[str, Any]:
        return dict(self._replies)

    def resumes(self) -> int:
        return self._resumes

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self.client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
