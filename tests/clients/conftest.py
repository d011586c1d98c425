"""Fixtures of the clients' tests: the stand-in stack (tests/session_standin) and tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from session_helpers import make_token

from session_standin.fixtures import standin  # noqa: F401 - a fixture, found by its name


@pytest.fixture
def token() -> Callable[..., str]:
    return make_token
