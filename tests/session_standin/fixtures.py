"""The stand-in stack as a pytest fixture, for the conftest files and test modules that
import it (pytest finds a fixture by the name of the parameter that asks for it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from session_standin.server import StandInServer

# Frames a backend might push that look like the handler's token_expired: none of them may
# make a client resend anything (docs/design.md, "Requests, idempotency, resends").
PUSHED_TOKEN_EXPIRED = [
    pytest.param({"type": "error", "error": "token_expired"}, id="no id"),
    pytest.param(
        {"type": "error", "error": "token_expired", "id": "someone-else.1"}, id="another id"
    ),
    pytest.param(
        {"type": "error", "error": "token_expired", "numbered": True}, id="numbered by the backend"
    ),
]


@pytest.fixture
def standin() -> Iterator[StandInServer]:
    """A stand-in stack of its own for the test, stopped after it."""
    server = StandInServer().start()
    try:
        yield server
    finally:
        server.stop()


def push_like_a_backend(server: StandInServer, frame: dict[str, object]) -> None:
    """Send one of PUSHED_TOKEN_EXPIRED: numbered ones into the stream, others as they are."""
    if frame.get("numbered"):
        server.push("s", {key: value for key, value in frame.items() if key != "numbered"})
    else:
        server.send_raw(frame)
