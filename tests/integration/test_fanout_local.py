"""Broadcasts through the local fan-out with the module's worker (`ws_bridge.fanout.handler`,
from the Lambda package built from this tree): the SDK's list jobs on an SQS queue, the
worker run by the gateway's poller, its posts answered by a stub `@connections` endpoint
(`wslocal.fanout_bench`), with the faults a fan-out meets.

- 20,000 subscribers, some gone (410) and some throttled once (429): each live subscriber
  gets the message exactly once (the worker sends back only the ids that failed), and no
  record or subscription of a gone connection is left.
- A crash of every worker process mid-broadcast: the batches they held come back after the
  visibility timeout and nothing is lost (what the crashed invocations had posted may be
  posted again: SQS delivers at least once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wslocal.fanout_bench.rig import Rig, build_package
from wslocal.fanout_bench.run import Broadcast, Tables, broadcast

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# The size `make bench-fanout` measures. About 23 s here: the worker's posts skip botocore's
# per-call pipeline (ws_bridge.connections_post); through the boto3 client they cost twice
# the CPU, and the test held 5,000.
SUBSCRIBERS = 20_000


@pytest.fixture(scope="module")
def fanout(
    emulator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Rig, Tables, Path]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", emulator)
        patch.setenv("AWS_REGION", "us-east-1")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        rig = Rig()
        yield rig, Tables(rig), build_package(tmp_path_factory.mktemp("fanout"))


def test_a_broadcast_reaches_each_live_subscriber_exactly_once(
    fanout: tuple[Rig, Tables, Path],
) -> None:
    subscribers = [f"conn-{i:05d}" for i in range(SUBSCRIBERS)]
    gone = frozenset(subscribers[::97])
    throttled = frozenset(subscribers[5::41]) - gone
    plan = Broadcast(
        subscribers=subscribers,
        workers=4,
        gone=gone,
        throttled=throttled,
        function_timeout=30,
        # 8 posts in flight per worker, not 32: the stub answers each well within the
        # worker's 2 s read timeout even on a loaded machine (a timed-out post is re-posted).
        environment={"FANOUT_CONCURRENCY": "8"},
    )

    outcome = broadcast(*fanout, plan)

    assert outcome.finished
    live = {s for s in subscribers if s not in gone}
    assert set(outcome.delivered) == live
    assert set(outcome.delivered.values()) == {1}
    assert outcome.throttled_posts == len(throttled)  # each retried once, alone
    assert outcome.gone_posts == len(gone)
    assert outcome.gone_records_left == 0
    assert outcome.left_in_queue == 0
    assert outcome.dead_letters == 0


def test_a_worker_crash_mid_broadcast_loses_nothing(fanout: tuple[Rig, Tables, Path]) -> None:
    subscribers = [f"crash-{i:05d}" for i in range(2_000)]
    plan = Broadcast(
        subscribers=subscribers,
        workers=2,
        chunk=400,
        latency=0.002,
        crash_at=500,  # every worker process is killed at the 500th delivery
        function_timeout=8,
    )

    outcome = broadcast(*fanout, plan)

    assert outcome.finished
    assert set(outcome.delivered) == set(subscribers)
    # Posted again at most what the killed invocations held: two jobs of 400.
    assert sum(outcome.delivered.values()) - len(subscribers) <= 2 * 400
    assert sum(outcome.delivered.values()) > len(subscribers)  # the crash did cut a batch
    assert outcome.left_in_queue == 0
    assert outcome.dead_letters == 0
