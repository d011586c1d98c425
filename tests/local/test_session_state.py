"""Session state of the reference backend, in memory and in a real Redis server (the
distribution's redis-server or valkey-server, started here on a free port)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from wslocal.redis_service import local_redis, redis_url
from wslocal.reference_backend import Backend
from wslocal.session_state import (
    RECENT_RESULTS,
    STATE_TTL_SECONDS,
    MemorySessionState,
    RedisSessionState,
    SessionState,
    SessionStateError,
    open_session_state,
)
from wslocal.stack import free_port


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server on a free port for this module; its URL."""
    with local_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[SessionState]:
    if request.param == "memory":
        yield MemorySessionState()
        return
    request.getfixturevalue("redis_client")  # a clean database
    state = RedisSessionState(request.getfixturevalue("redis_server"))
    yield state
    state.close()


def test_an_unknown_session_has_no_state(store: SessionState) -> None:
    assert store.snapshot("lab-9") == {"terminal": None, "recentResults": []}


def test_the_last_resize_wins(store: SessionState) -> None:
    store.set_terminal("lab-1", 80, 24)
    store.set_terminal("lab-1", 132, 43)
    terminal = store.snapshot("lab-1")["terminal"]
    assert (terminal["cols"], terminal["rows"]) == (132, 43)
    assert abs(terminal["updatedAt"] - time.time() * 1000) < 60_000


def test_results_are_kept_newest_first_and_capped(store: SessionState) -> None:
    for n in range(RECENT_RESULTS + 5):
        store.add_result("lab-1", {"command": f"c{n}", "exitCode": 0})
    results = store.snapshot("lab-1")["recentResults"]
    assert len(results) == RECENT_RESULTS
    assert results[0] == {"command": f"c{RECENT_RESULTS + 4}", "exitCode": 0}
    assert results[-1]["command"] == "c5"


def test_sessions_do_not_see_each_other(store: SessionState) -> None:
    store.set_terminal("lab-1", 100, 30)
    store.add_result("lab-1", {"command": "ls"})
    assert store.snapshot("lab-2") == {"terminal": None, "recentResults": []}


def test_redis_state_is_in_redis_shared_and_expires(
    redis_server: str, redis_client: redis.Redis
) -> None:
    writer, reader = RedisSessionState(redis_server), RedisSessionState(redis_server)
    writer.set_terminal("lab-1", 120, 40)
    writer.add_result("lab-1", {"command": "pwd"})
    assert reader.snapshot("lab-1")["terminal"]["cols"] == 120
    assert reader.snapshot("lab-1")["recentResults"] == [{"command": "pwd"}]
    assert redis_client.hget("wsbridge:session:lab-1:terminal", "rows") == "40"
    stored = redis_client.lrange("wsbridge:session:lab-1:results", 0, -1)
    assert [json.loads(item) for item in stored] == [{"command": "pwd"}]
    for key in ("wsbridge:session:lab-1:terminal", "wsbridge:session:lab-1:results"):
        assert 0 < redis_client.ttl(key) <= STATE_TTL_SECONDS
    writer.close()
    reader.close()


def test_open_session_state_picks_the_store_and_checks_redis(redis_server: str) -> None:
    assert open_session_state(None).kind == "memory"
    assert open_session_state("").kind == "memory"
    assert open_session_state(redis_server).kind == "redis"
    with pytest.raises(SessionStateError):
        open_session_state(redis_url(free_port()))


# -- the reference backend ---------------------------------------------------------------------


def _message(backend: Backend, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    ids = {"connectionId": "c1", "sessionId": "lab-1", "userId": "alice"}
    data = json.dumps({**body, **ids}).encode()
    _, reply = backend.handle("POST", "/api/ws/message", {"x-connection-id": "c1"}, data)
    return reply.status, json.loads(reply.body)


def _state(backend: Backend, session: str = "lab-1") -> tuple[int, dict[str, object]]:
    _, reply = backend.handle("GET", f"/api/admin/sessions/{session}/state", {}, b"")
    return reply.status, json.loads(reply.body)


BackendMaker = Callable[[SessionState], Backend]


@pytest.fixture
def make_backend() -> BackendMaker:
    def make(state: SessionState) -> Backend:
        return Backend(sessions=[("lab-1", "alice")], state=state)

    return make


def test_the_backend_records_resizes_and_command_results(
    store: SessionState, make_backend: BackendMaker
) -> None:
    backend = make_backend(store)
    assert _message(backend, {"type": "resize", "cols": 100, "rows": 30})[0] == 200
    assert _message(backend, {"type": "command", "command": "ls -l"})[0] == 200
    # Refused messages (numbered error replies) change nothing.
    assert _message(backend, {"type": "resize", "cols": 0, "rows": 30})[1]["type"] == "error"
    assert _message(backend, {"type": "command", "command": 7})[1]["type"] == "error"
    status, state = _state(backend)
    assert status == 200
    assert state["store"] == store.kind
    assert state["terminal"]["cols"] == 100  # type: ignore[index]
    assert state["terminal"]["rows"] == 30  # type: ignore[index]
    results = state["recentResults"]
    assert isinstance(results, list)
    assert [r["command"] for r in results] == ["ls -l"]
    assert results[0]["result"] == {"output": "ls -l", "exitCode": 0, "executed": False}


def test_the_state_endpoint_knows_only_known_sessions(make_backend: BackendMaker) -> None:
    backend = make_backend(MemorySessionState())
    assert _state(backend, "lab-404")[0] == 404


def test_two_backends_on_one_redis_share_state(
    redis_server: str, redis_client: redis.Redis, make_backend: BackendMaker
) -> None:
    first = make_backend(RedisSessionState(redis_server))
    second = make_backend(RedisSessionState(redis_server))
    _message(first, {"type": "resize", "cols": 90, "rows": 20})
    _message(second, {"type": "command", "command": "uptime"})
    for backend in (first, second):
        state = _state(backend)[1]
        assert state["terminal"]["cols"] == 90  # type: ignore[index]
        assert state["recentResults"][0]["command"] == "uptime"  # type: ignore[index]


def test_redis_out_of_reach_is_a_503_not_a_lost_write(make_backend: BackendMaker) -> None:
    backend = make_backend(RedisSessionState(redis_url(free_port())))
    status, reply = _message(backend, {"type": "resize", "cols": 90, "rows": 20})
    assert status == 503
    assert reply["error"] == "state_unavailable"
    assert _state(backend)[0] == 503


def test_the_backend_cli_refuses_to_start_without_its_redis(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m", "wslocal.reference_backend", "--redis-url", redis_url(free_port()),
        ],
        env={
            "PYTHONPATH": f"{root / 'lambda'}:{root / 'local'}:{root / 'sdk/python/src'}",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "redis" in result.stderr.lower()
    assert "backend ready" not in result.stdout
