"""clients/browser/ws-bridge.js in headless Chromium against the stand-in stack
(tests/session_standin), while the network breaks on purpose: 100 forced drops while the
backend streams numbered output, rollovers at a short maximum duration. Nothing lost,
nothing delivered twice, every request run once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from session_page import BrowserDriver, events, seqs, start

from session_standin.drop_loop import Target, run_drop_loop, wait_for

if TYPE_CHECKING:
    from conftest import StandInPage

pytestmark = pytest.mark.browser


def test_100_forced_drops_lose_nothing_and_duplicate_nothing(standin_page: StandInPage) -> None:
    standin = standin_page.standin
    driver = BrowserDriver(
        standin_page.page, standin.url, backoff={"baseMs": 10, "maxMs": 50, "maxAttempts": 5}
    )
    target = Target(standin.url, standin.control_url, standin.control_url, "s")
    result = run_drop_loop(target, driver, drops=100, executed=standin.executed)
    result.check()
    assert len(result.requests) == 10


def test_rollovers_at_a_short_maximum_duration(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    # 2 s of margin, as the Python client's test: with 1 s, a rollover on a loaded 2-core
    # machine can finish after the stand-in's close.
    standin.faults.max_duration = 4.0
    result = start(page, standin.url, maxDurationMs=4000, rolloverMarginMs=2000)
    assert result["ok"], result
    for line in range(1, 301):
        standin.push("s", {"type": "output", "line": line})
        if line % 50 == 0:
            page.evaluate(
                "(id) => { window.request({ type: 'command', command: 'x', id }); }", f"r.{line}"
            )
        time.sleep(0.025)
    wait_for(lambda: len(seqs(page)) >= 306, 20, "every line and reply")
    assert seqs(page) == list(range(1, len(seqs(page)) + 1))
    lines = page.evaluate(
        "window.__messages.filter(([, m]) => m.type === 'output').map(([, m]) => m.line)"
    )
    assert lines == list(range(1, 301))
    done = [e for e in events(page, "rollover") if e["detail"]["phase"] == "done"]
    assert len(done) >= 2
    assert events(page, "close") == []
    replies = page.evaluate("window.__replies")
    assert all(replies[f"r.{n}"]["type"] == "command_result" for n in range(50, 301, 50))
    assert all(standin.executed(f"r.{n}") == 1 for n in range(50, 301, 50))
