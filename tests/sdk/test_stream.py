"""Session streams, in memory and in a real Redis: numbered from 1 without a gap or a repeat
(also with appends racing from several threads and two store instances), kept for the last
N frames and T seconds, read back as first sent within a byte budget, and a resync when
the buffer no longer holds what a client missed.

The Redis cases need a redis-server (or valkey-server): without one they fail, saying how
to install it (wslocal.redis_service)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
import redis
from session_support import Clock, unreachable_redis

from ws_bridge_backend.frames import MAX_STREAM_FRAME_BYTES, numbered
from ws_bridge_backend.stream import (
    MemoryStream,
    RedisStream,
    SessionStoreError,
    StreamSettings,
    StreamStore,
    _Filler,
)

type Make = Callable[..., StreamStore]


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Make:
    """A stream store of the kind the case names, with ``settings`` and ``clock``."""
    if request.param == "memory":
        return lambda settings=None, clock=None: MemoryStream(settings, clock=clock or Clock())
    client = request.getfixturevalue("redis_client")
    return lambda settings=None, clock=None: RedisStream(client, settings, clock=clock or Clock())


def seqs(frames: list[str]) -> list[int]:
    return [json.loads(frame)["seq"] for frame in frames]


def test_frames_are_numbered_from_1_in_order_and_kept_as_sent(make: Make) -> None:
    stream = make()
    first = stream.append("lab-1", ['{"type":"output","text":"é ☃ 😀"}', "{}"])
    assert first == ['{"seq":1,"type":"output","text":"é ☃ 😀"}', '{"seq":2}']
    assert seqs(stream.append("lab-1", ['{"a":1}'])) == [3]
    assert seqs(stream.append("lab-2", ['{"a":1}'])) == [1]  # each session its own stream
    read = stream.read("lab-1", 0, 10_000)
    assert (read.head, read.frames, read.more) == (3, [*first, '{"seq":3,"a":1}'], False)


def test_the_redis_script_numbers_exactly_as_the_python_code_does(
    redis_client: redis.Redis,
) -> None:
    bodies = ['{"x":"\\u0000\\"}"}', "{}", '{"nested":{"seq":9}}', '{"t":"' + "é" * 5000 + '"}']
    frames = RedisStream(redis_client).append("s", bodies)
    assert frames == [numbered(body, seq) for seq, body in enumerate(bodies, 1)]


def test_a_resume_reads_what_follows_its_last_seq(make: Make) -> None:
    stream = make()
    frames = stream.append("s", [f'{{"n":{n}}}' for n in range(1, 6)])
    assert stream.read("s", 2, 10_000).frames == frames[2:]
    caught_up = stream.read("s", 5, 10_000)
    assert (caught_up.head, caught_up.frames, caught_up.more) == (5, [], False)
    assert stream.read("new", 0, 10_000).frames == []  # a session with no frame yet


def test_a_last_seq_beyond_the_head_is_told_to_resync(make: Make) -> None:
    """The store lost the stream (a flushed Redis, a quiet counter expired): a client that
    saw more than there is must not wait for seqs that were handed out again."""
    stream = make()
    stream.append("s", ['{"n":1}'])
    read = stream.read("s", 7, 10_000)
    assert (read.head, read.frames) == (1, None)
    assert make().read("unknown", 3, 10_000).frames is None


def test_the_budget_bounds_a_read_and_more_says_others_follow(make: Make) -> None:
    stream = make()
    frames = stream.append("s", [f'{{"text":"{"x" * 90}"}}' for _ in range(10)])
    size = len(frames[0])  # ASCII: one byte a character
    read = stream.read("s", 0, 3 * size + 2)  # three frames and their two commas
    assert (read.frames, read.more) == (frames[:3], True)
    assert stream.read("s", 0, 3 * size + 1).frames == frames[:2]
    # A frame larger than the budget still goes alone: a resume always makes progress.
    assert stream.read("s", 4, 1).frames == frames[4:5]


def test_only_the_last_n_frames_are_kept(make: Make) -> None:
    stream = make(StreamSettings(max_messages=5))
    frames = stream.append("s", [f'{{"n":{n}}}' for n in range(1, 9)])
    assert stream.read("s", 3, 10_000).frames == frames[3:]  # 4..8: the last five
    assert stream.read("s", 2, 10_000).frames is None  # seq 3 is gone: resync
    assert stream.read("s", 0, 10_000).frames is None


def test_frames_are_kept_for_t_seconds(make: Make) -> None:
    clock = Clock()
    stream = make(StreamSettings(max_age_seconds=60), clock)
    stream.append("s", ['{"n":1}'])
    clock.now += 30
    second = stream.append("s", ['{"n":2}'])
    clock.now += 30  # the first frame is exactly 60 s old: still kept
    assert seqs(stream.read("s", 0, 10_000).frames or []) == [1, 2]
    clock.now += 0.01
    assert stream.read("s", 0, 10_000).frames is None
    assert stream.read("s", 1, 10_000).frames == second
    clock.now += 30
    read = stream.read("s", 1, 10_000)
    assert (read.head, read.frames) == (2, None)  # everything aged out: the head stays


def test_redis_keys_expire_with_the_frames_and_the_counter_later(
    redis_client: redis.Redis,
) -> None:
    stream = RedisStream(redis_client, StreamSettings(max_age_seconds=90, counter_ttl_seconds=900))
    stream.append("lab-1", ['{"n":1}'])
    counter, frames = stream.keys("lab-1")
    assert counter == "ws-bridge:stream:{lab-1}:seq"  # one cluster slot per session
    assert 89_000 < redis_client.pttl(frames) <= 90_000
    assert 899 <= redis_client.ttl(counter) <= 900


def test_appends_racing_from_threads_and_instances_never_share_a_seq(make: Make) -> None:
    stores = [make(), make()]  # two instances of the backend on one store (Redis: shared)
    shared = isinstance(stores[0], RedisStream)
    results: list[list[int]] = []
    lock = threading.Lock()

    def work(store: StreamStore, worker: int) -> None:
        for n in range(60):
            got = seqs(store.append("s", [f'{{"w":{worker},"n":{n},"p":{p}}}' for p in range(3)]))
            with lock:
                results.append(got)

    threads = [
        threading.Thread(target=work, args=(stores[i % 2] if shared else stores[0], i))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(seq for got in results for seq in got)
    assert every == list(range(1, 6 * 60 * 3 + 1))  # no repeat, no gap
    assert all(got == list(range(got[0], got[0] + 3)) for got in results)  # one append: in a row


def test_redis_reads_page_through_a_long_gap_in_order(redis_client: redis.Redis) -> None:
    stream = RedisStream(redis_client)
    frames = stream.append("s", [f'{{"n":{n}}}' for n in range(1, 901)])
    read = stream.read("s", 0, 1_000_000)  # pages of 128, 256, 512...
    assert (read.frames, read.more) == (frames, False)
    partial = stream.read("s", 100, 8 * len(frames[500]))
    assert seqs(partial.frames or []) == list(range(101, 101 + len(partial.frames or [])))
    assert partial.more


def test_a_gap_inside_a_read_stops_the_read_there() -> None:
    """Frames trimmed between two pages of one read: what follows the gap is left for the
    next resume, which then gets resync_required."""
    filler = _Filler(after=0, head=5, budget=10_000)
    assert filler.offer([(1, "a"), (2, "b"), (4, "d")]) is False
    result = filler.result()
    assert (result.frames, result.more) == (["a", "b"], True)


def test_a_frame_too_large_for_one_message_is_refused(make: Make) -> None:
    stream = make()
    body = '{"t":"' + "x" * MAX_STREAM_FRAME_BYTES + '"}'
    with pytest.raises(ValueError, match="chunk it"):
        stream.append("s", [body])
    with pytest.raises(ValueError, match="JSON object"):
        stream.append("s", ["[1]"])
    assert stream.read("s", 0, 10_000).head == 0  # nothing numbered


def test_a_redis_that_cannot_be_reached_is_a_store_error() -> None:
    stream = RedisStream(unreachable_redis())
    with pytest.raises(SessionStoreError):
        stream.append("s", ["{}"])
    with pytest.raises(SessionStoreError):
        stream.read("s", 0, 100)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_messages"):
        StreamSettings(max_messages=0)
    with pytest.raises(ValueError, match="max_age_seconds"):
        StreamSettings(max_age_seconds=0)
    with pytest.raises(ValueError, match="counter_ttl_seconds"):
        StreamSettings(max_age_seconds=600, counter_ttl_seconds=60)


def test_memory_forgets_streams_quiet_longer_than_their_counter_is_kept() -> None:
    clock = Clock()
    stream = MemoryStream(StreamSettings(max_age_seconds=60, counter_ttl_seconds=120), clock=clock)
    stream.append("old", ["{}"])
    clock.now += 121
    stream.append("new", ["{}"])  # purges, at most once a minute
    assert stream.read("old", 1, 100).frames is None  # its counter is gone: resync
    assert stream.read("old", 0, 100).head == 0
