"""The Python client while the network breaks on purpose, against the stand-in stack
(tests/session_standin): 100 forced drops while the backend streams numbered output,
rollovers at a short maximum duration. Nothing lost, nothing delivered twice, every request
run once."""

from __future__ import annotations

import time
from collections.abc import Callable

from session_helpers import make_token

from session_standin import StandInServer
from session_standin.drop_loop import Target, run_drop_loop, wait_for
from session_standin.python_driver import PythonDriver
from ws_bridge_client import Backoff, SessionSettings

FAST = SessionSettings(backoff=Backoff(0.01, 0.05, 5), reply_timeout=10)


def target(server: StandInServer) -> Target:
    return Target(server.url, server.control_url, server.control_url, "s")


def test_100_forced_drops_lose_nothing_and_duplicate_nothing(standin: StandInServer) -> None:
    driver = PythonDriver(standin.url, lambda _reason: make_token(), FAST)
    result = run_drop_loop(target(standin), driver, drops=100, executed=standin.executed)
    result.check()
    assert result.drops == 100
    assert len(result.requests) == 10
    assert len([h for h in standin.handshakes if h.status == 101]) >= 101


def test_rollovers_at_a_short_maximum_duration(
    standin: StandInServer, token: Callable[..., str]
) -> None:
    """The stand-in closes every connection after 4 s (API Gateway's 2 hours, made short);
    the client moves to a new connection 2 s before, without losing or repeating a line,
    and never sees the close. (With 1 s of margin, a rollover on a loaded 2-core machine
    once finished after the close.)"""
    standin.faults.max_duration = 4.0
    settings = SessionSettings(
        backoff=Backoff(0.01, 0.05, 5), max_duration=4.0, rollover_margin=2.0, reply_timeout=10
    )
    driver = PythonDriver(standin.url, lambda _reason: token(), settings)
    driver.start()
    for line in range(1, 301):
        standin.push("s", {"type": "output", "line": line})
        if line % 50 == 0:
            driver.request({"type": "command", "command": "x", "id": f"r.{line}"})
        time.sleep(0.025)
    wait_for(lambda: len(driver.delivered()) >= 306, 20, "every line and reply")
    lines = [m["line"] for _, m in driver.delivered() if m.get("type") == "output"]
    assert lines == list(range(1, 301))
    seqs = [seq for seq, _ in driver.delivered()]
    assert seqs == list(range(1, len(seqs) + 1))
    rollovers = [e for e in driver.events if e.kind == "rollover" and e.detail["phase"] == "done"]
    assert len(rollovers) >= 2
    closes = [e for e in driver.events if e.kind == "close"]
    assert closes == [], "a rollover closes the old connection itself; the stand-in never did"
    requests = [f"r.{n}" for n in range(50, 301, 50)]
    assert all(standin.executed(rid) == 1 for rid in requests)
    assert all(driver.replies()[rid]["type"] == "command_result" for rid in requests)
    driver.stop()
