"""Idempotent requests, in memory and in a real Redis: a request id starts once (also when
threads and two instances race for it), a repeat while it runs is told so, a repeat after
the reply gets the reply's frames, a failed request can run again, and nothing is kept
past its time. Keys are per session and user: no one takes over another user's id."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis
from session_support import Clock, unreachable_redis

from ws_bridge_backend.idempotency import (
    Begin,
    IdempotencySettings,
    MemoryRequestLedger,
    RedisRequestLedger,
    RequestKey,
    RequestLedger,
    RequestState,
)
from ws_bridge_backend.stream import SessionStoreError

type Make = Callable[..., RequestLedger]

KEY = RequestKey("lab-1", "alice", "c.1")
NEW, RUNNING, ANSWERED = RequestState.NEW, RequestState.RUNNING, RequestState.ANSWERED


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Make:
    if request.param == "memory":
        return lambda settings=None, clock=None: MemoryRequestLedger(
            settings, clock=clock or Clock()
        )
    client = request.getfixturevalue("redis_client")
    return lambda settings=None, clock=None: RedisRequestLedger(client, settings)


def test_a_request_starts_once_and_a_repeat_gets_its_reply(make: Make) -> None:
    ledger = make()
    assert ledger.begin(KEY) == Begin(NEW)
    assert ledger.begin(KEY) == Begin(RUNNING)
    frames = ['{"seq":7,"type":"chunk","data":"é"}', '{"seq":8,"type":"chunk"}']
    ledger.finish(KEY, frames)
    assert ledger.begin(KEY) == Begin(ANSWERED, tuple(frames))
    assert ledger.begin(KEY) == Begin(ANSWERED, tuple(frames))


def test_a_failed_request_can_run_again_but_an_answered_one_cannot(make: Make) -> None:
    ledger = make()
    ledger.begin(KEY)
    ledger.abandon(KEY)
    assert ledger.begin(KEY).state is NEW
    ledger.finish(KEY, ['{"seq":1}'])
    ledger.abandon(KEY)  # too late: the reply stands
    assert ledger.begin(KEY).state is ANSWERED


def test_keys_are_per_session_and_user(make: Make) -> None:
    ledger = make()
    ledger.begin(KEY)
    ledger.finish(KEY, ['{"seq":1}'])
    assert ledger.begin(RequestKey("lab-1", "bob", "c.1")).state is NEW
    assert ledger.begin(RequestKey("lab-2", "alice", "c.1")).state is NEW
    # ":" may be in a user id and in a request id: these two must not meet.
    ledger.begin(RequestKey("s", "a:b", "c"))
    assert ledger.begin(RequestKey("s", "a", "b:c")).state is NEW


def test_racing_repeats_start_a_request_once(make: Make) -> None:
    ledgers = [make(), make()]
    shared = isinstance(ledgers[0], RedisRequestLedger)
    states: list[RequestState] = []
    barrier = threading.Barrier(8)

    def work(ledger: RequestLedger) -> None:
        barrier.wait()
        states.append(ledger.begin(KEY).state)

    threads = [
        threading.Thread(target=work, args=(ledgers[i % 2] if shared else ledgers[0],))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(state.value for state in states) == ["new"] + ["running"] * 7


def test_memory_keeps_each_entry_for_its_time_only() -> None:
    clock = Clock()
    ledger = MemoryRequestLedger(IdempotencySettings(300, 60), clock=clock)
    ledger.begin(KEY)
    clock.now += 59
    assert ledger.begin(KEY).state is RUNNING
    clock.now += 1.5  # its process died: a repeat runs it
    assert ledger.begin(KEY).state is NEW
    ledger.finish(KEY, ['{"seq":1}'])
    clock.now += 299
    assert ledger.begin(KEY).state is ANSWERED
    for n in range(50):
        ledger.begin(RequestKey("s", "u", f"x.{n}"))
    clock.now += 301
    ledger.begin(RequestKey("s", "u", "last"))
    assert len(ledger) == 1  # everything else purged
    assert ledger.begin(KEY).state is NEW  # purged with the rest: it runs again


def test_redis_keeps_each_entry_for_its_time_only(redis_client: redis.Redis) -> None:
    ledger = RedisRequestLedger(redis_client, IdempotencySettings(0.6, 0.3))
    ledger.begin(KEY)
    key = ledger.key(KEY)
    assert key == "ws-bridge:request:{lab-1}:alice/c.1"
    assert 0 < redis_client.pttl(key) <= 300
    time.sleep(0.35)
    assert ledger.begin(KEY).state is NEW
    ledger.finish(KEY, ['{"seq":1}'])
    assert 300 < redis_client.pttl(key) <= 600
    time.sleep(0.65)
    assert ledger.begin(KEY).state is NEW


def test_a_redis_that_cannot_be_reached_is_a_store_error() -> None:
    ledger = RedisRequestLedger(unreachable_redis())
    for call in (
        lambda: ledger.begin(KEY),
        lambda: ledger.finish(KEY, []),
        lambda: ledger.abandon(KEY),
    ):
        with pytest.raises(SessionStoreError):
            call()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="running_seconds"):
        IdempotencySettings(window_seconds=10, running_seconds=20)
    with pytest.raises(ValueError, match="running_seconds"):
        IdempotencySettings(running_seconds=0)
