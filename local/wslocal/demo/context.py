"""What the demo's steps share: the running stack, the transcript, the connection, the
scripted identity, and the checks and waits every step uses."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from websockets.exceptions import ConnectionClosed

from wslocal.client import WsClient
from wslocal.demo.transcript import Transcript
from wslocal.stack import Stack

__all__ = [
    "CONNECTION_TTL_SECONDS",
    "FORGED",
    "SESSION",
    "USER",
    "Demo",
    "DemoFailed",
    "check",
    "poll",
    "reply",
]

USER: Final = "alice"
SESSION: Final = "lab-1"
# The identity a client tries to claim in its message body; the handler must overwrite it.
FORGED: Final[Mapping[str, str]] = {
    "userId": "mallory",
    "sessionId": "lab-2",
    "connectionId": "forged-connection",
}
CONNECTION_TTL_SECONDS: Final = 7200
REPLY_TIMEOUT: Final = 10.0
POLL_TIMEOUT: Final = 10.0


class DemoFailed(Exception):
    """A step's check failed; the message says what was expected and what happened."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


@dataclass
class Demo:
    """The running stack and what the session steps share."""

    stack: Stack
    transcript: Transcript
    ports: Mapping[str, int]
    token: str = ""
    jwt_key: str = ""  # the HS256 key the authorizer reads (the mint step reads it)
    connection_id: str = ""
    session_store: bool = False  # the backend keeps its session state in a local Redis
    topics: bool = False  # examples/local's fan-out part is applied: the topic step runs
    client: WsClient | None = None  # the session's connection, once a step opened it

    @property
    def ws_url(self) -> str:
        return self.stack.outputs.local_websocket_url

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['backend']}"

    @property
    def connection(self) -> WsClient:
        """The open connection (a step before this one connects)."""
        if self.client is None:
            raise DemoFailed("no connection is open")
        return self.client

    def backend(self, method: str, path: str, body: Any = None) -> Any:
        """Call the reference backend; its JSON answer (``DemoFailed`` on an HTTP error)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{self.backend_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise DemoFailed(f"{method} {path} answered HTTP {err.code}: {err.read()!r}") from None
        except (OSError, ValueError) as err:
            raise DemoFailed(f"{method} {path} failed: {err}") from None

    def records(self) -> list[dict[str, Any]]:
        """Every connection record in the table, attribute values unwrapped."""
        items = self.stack.client("dynamodb").scan(TableName=self.stack.outputs.table_name)
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in items["Items"]
        ]


async def poll[T](probe: Callable[[], T | None], what: str, timeout: float = POLL_TIMEOUT) -> T:
    """Call `probe` (in a thread) until it returns something, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(probe)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise DemoFailed(f"{what} (waited {timeout:.0f} s)")
        await asyncio.sleep(0.1)


async def reply(client: WsClient, expected_type: str) -> dict[str, Any]:
    """The next message on `client`, which must be a JSON object of type `expected_type`."""
    try:
        answer = await client.receive_json(REPLY_TIMEOUT)
    except TimeoutError:
        raise DemoFailed(f"no {expected_type!r} reply within {REPLY_TIMEOUT:.0f} s") from None
    except ConnectionClosed as err:
        raise DemoFailed(f"the connection closed instead of answering: {err}") from None
    except ValueError as err:
        raise DemoFailed(f"the reply is not JSON: {err}") from None
    check(
        isinstance(answer, dict) and answer.get("type") == expected_type,
        f"expected a {expected_type!r} reply, got {answer!r}",
    )
    result: dict[str, Any] = answer
    return result
