"""A broadcast to 20,000 subscribers through the local fan-out: one SQS message per 100
subscribers, the worker run by the gateway's poller (4 at once), posting to a stub
`@connections` endpoint (`wslocal.fanout_bench`), with the faults a fan-out meets: gone
connections (410), throttled posts (429) and a worker that crashes mid-batch.

The worker is `wslocal.fanout_bench.worker_double`, which follows the fan-out worker's
interface (records in, `batchItemFailures` out, a 410 removes the subscription record).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wslocal.fanout_bench.rig import Rig, zip_of
from wslocal.fanout_bench.run import Broadcast, broadcast, chunks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DOUBLE = Path(__file__).resolve().parents[2] / "local/wslocal/fanout_bench/worker_double.py"
SUBSCRIBERS = [f"conn-{i:05d}" for i in range(20_000)]
CHUNK = 100
CRASHED_CHUNK, CRASH_AFTER = 7, 10


def test_a_broadcast_to_20000_reaches_each_subscriber_once_and_forgets_the_gone(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    package = zip_of({"worker_double.py": DOUBLE}, tmp_path / "packages" / "double.zip")
    gone = frozenset(SUBSCRIBERS[::97])
    throttled = frozenset(SUBSCRIBERS[5::41]) - gone
    plan = Broadcast(
        subscribers=SUBSCRIBERS,
        workers=4,
        chunk=CHUNK,
        batch_size=5,
        gone=gone,
        throttled=throttled,
        crash={CRASHED_CHUNK: CRASH_AFTER},
        timeout=90,
        function_timeout=5,  # the crashed batch comes back after 5 s
    )

    outcome = broadcast(Rig(), package, plan)

    assert outcome.finished
    live = [s for s in SUBSCRIBERS if s not in gone]
    # Nothing lost: every live subscriber got the message; no gone one did.
    assert set(outcome.delivered) == set(live)
    # Exactly once, but for what the crash made the worker send again: the first posts of
    # the chunk it crashed in, and whole chunks earlier in that invocation's batch (their
    # messages were not deleted, so they came back with it).
    doubled = {s for s, n in outcome.delivered.items() if n > 1}
    assert max(outcome.delivered.values()) <= 2
    parts = chunks(SUBSCRIBERS, CHUNK)
    crashed_prefix = {s for s in parts[CRASHED_CHUNK][:CRASH_AFTER] if s not in gone}
    assert crashed_prefix <= doubled
    whole = [set(p) - gone for p in parts]
    rest = doubled - crashed_prefix
    redone = [c for c in whole if c & rest]
    assert all(c <= rest for c in redone), "a chunk was resent only in part"
    assert len(redone) < plan.batch_size
    # Throttled posts were retried, not dropped; gone connections lost their records.
    assert outcome.throttled_posts >= len(throttled)
    assert outcome.gone_posts >= len(gone)
    assert outcome.records_left & gone == set()
    assert outcome.records_left == set(live)
    assert outcome.left_in_queue == 0
    assert outcome.dead_letters == 0
