"""Fixtures of the backend SDK's tests: a redis-server of their own per module (a test that
needs one fails, saying how to install it, when there is none) and a clean client of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from wslocal.redis_service import local_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server for the module (fails, saying how to install one, without it)."""
    with local_redis(Path(tmp_path_factory.mktemp("redis"))) as url:
        yield url


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server, socket_timeout=5)
    client.flushdb()
    yield client
    client.close()
