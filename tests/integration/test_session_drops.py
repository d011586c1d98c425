"""The heavy loop, through the whole local stack: the backend streams numbered output while
the gateway cuts the client's connection 100 times, and while connections reach a short
maximum duration (API Gateway's 2 hours made 6 s). The Python client delivers every line
once, in order, and every request runs once; the reference backend keeps its streams and
request ids in a real Redis.

The loop itself is tests/session_standin/drop_loop.py, the one the clients' own tests run
against their stand-in: here it runs against the deployed handler and the SDK's layer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from session_standin.drop_loop import Target, run_drop_loop
from session_standin.local_stack import (
    FAST,
    SHORT_MAX_DURATION_SECONDS,
    SHORT_ROLLOVER_MARGIN_SECONDS,
    SessionStack,
    client,
    session_stack,
)
from session_standin.python_driver import PythonDriver
from ws_bridge_client import SessionSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def stack() -> Iterator[SessionStack]:
    with session_stack("ws-drops", ["--max-duration", str(SHORT_MAX_DURATION_SECONDS)]) as handle:
        yield handle


def test_100_forced_reconnects_lose_nothing_and_duplicate_nothing(stack: SessionStack) -> None:
    session = stack.new_session()
    driver = PythonDriver(
        stack.ws_url,
        lambda _reason: stack.token("alice", session),
        SessionSettings(auth="query", backoff=FAST, reply_timeout=20),
    )
    target = Target(stack.ws_url, stack.faults_url, stack.backend_url, session)
    result = run_drop_loop(target, driver, drops=100, lines=400, executed=stack.runs, timeout=240)
    result.check()
    assert (result.drops, len(result.requests)) == (100, 10)
    assert stack.validations(session) >= 101  # each drop cost a real reconnect


def test_rollovers_at_a_short_maximum_duration_lose_nothing(stack: SessionStack) -> None:
    """The gateway closes every connection after 6 s; the client moves to a new one 2 s
    before, while the backend streams a line every 50 ms: two rollovers, no close seen."""
    session = stack.new_session()
    settings = {
        "max_duration": SHORT_MAX_DURATION_SECONDS,
        "rollover_margin": SHORT_ROLLOVER_MARGIN_SECONDS,
    }
    alice, seen = client(stack, session, **settings)

    async def scenario() -> None:
        await alice.connect()
        stack.backend(
            "POST", f"/api/admin/sessions/{session}/stream", {"lines": 200, "interval": 0.05}
        )
        replies = [await alice.send({"type": "command", "command": f"c{n}"}) for n in range(3)]
        assert all(reply["type"] == "command_result" for reply in replies)
        deadline = time.monotonic() + 40
        while len(seen.messages) < 203 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await alice.close()

    asyncio.run(scenario())
    lines = [m["line"] for _, m in seen.messages if m.get("type") == "output"]
    assert lines == list(range(1, 201))
    assert [seq for seq, _ in seen.messages] == list(range(1, 204))
    done = [e for e in seen.kinds("rollover") if e["phase"] == "done"]
    assert len(done) >= 2
    assert seen.kinds("close") == []
