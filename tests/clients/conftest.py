"""Fixtures of the clients' tests: the stand-in stack (tests/session_standin) and tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from session_standin import StandInServer

KEY = "stand-in-key-that-nothing-verifies-0123"


def make_token(ttl: float = 600, **claims: Any) -> str:
    """A JWT the stand-in reads (unverified) for its exp, as the authorizer and handler do."""
    return jwt.encode({"sub": "alice", "exp": int(time.time() + ttl), **claims}, KEY)


@pytest.fixture
def standin() -> Iterator[StandInServer]:
    server = StandInServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token() -> Callable[..., str]:
    return make_token
