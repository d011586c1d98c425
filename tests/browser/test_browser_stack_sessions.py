"""clients/browser/ws-bridge.js in headless Chromium against the whole local stack (the
deployed handler, the reference backend on the SDK's session layer with a real Redis, the
gateway cutting connections and closing them at 6 s): 100 forced drops while the backend
streams numbered output, then rollovers. Nothing lost, nothing delivered twice, every
request run once. The same loop as test_browser_sessions.py runs against the stand-in."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from session_page import BrowserDriver, events, seqs, start

from session_standin.drop_loop import Target, run_drop_loop, wait_for
from session_standin.local_stack import SHORT_MAX_DURATION_SECONDS, SHORT_ROLLOVER_MARGIN_SECONDS

if TYPE_CHECKING:
    from session_standin.local_stack import SessionStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]


def test_100_forced_drops_lose_nothing_and_duplicate_nothing(
    sessions_page: Any, sessions_stack: SessionStack
) -> None:
    page, stack = sessions_page, sessions_stack
    session = stack.new_session()
    driver = BrowserDriver(
        page, stack.ws_url, session=session, backoff={"baseMs": 10, "maxMs": 50, "maxAttempts": 5}
    )
    target = Target(stack.ws_url, stack.faults_url, stack.backend_url, session)
    result = run_drop_loop(target, driver, drops=100, lines=400, executed=stack.runs, timeout=240)
    result.check()
    assert (result.drops, len(result.requests)) == (100, 10)


def test_rollovers_at_a_short_maximum_duration(
    sessions_page: Any, sessions_stack: SessionStack
) -> None:
    page, stack = sessions_page, sessions_stack
    session = stack.new_session()
    result = start(
        page,
        stack.ws_url,
        session=session,
        maxDurationMs=SHORT_MAX_DURATION_SECONDS * 1000,
        rolloverMarginMs=SHORT_ROLLOVER_MARGIN_SECONDS * 1000,
    )
    assert result["ok"], result
    stack.backend("POST", f"/api/admin/sessions/{session}/stream", {"lines": 200, "interval": 0.05})
    for n in range(3):
        page.evaluate(
            "(id) => { window.request({ type: 'command', command: 'x', id }); }", f"r.{n}"
        )
        time.sleep(3)
    wait_for(lambda: len(seqs(page)) >= 203, 40, "every line and reply")
    assert seqs(page) == list(range(1, 204))
    lines = page.evaluate(
        "window.__messages.filter(([, m]) => m.type === 'output').map(([, m]) => m.line)"
    )
    assert lines == list(range(1, 201))
    assert len([e for e in events(page, "rollover") if e["detail"]["phase"] == "done"]) >= 2
    assert events(page, "close") == []
    assert all(stack.runs(f"r.{n}") == 1 for n in range(3))


# Sends one request and resolves with what the page knows of it: request()'s id and
# traceparent, told before the reply, and the reply.
TRACED_REQUEST = """
async (message) => {
  const sent = window.bridge.request(message);
  return { id: sent.id, traceparent: sent.traceparent, reply: await sent.reply };
}
"""


def test_one_traceparent_in_the_browser_the_handler_s_log_and_the_backend_s_request(
    sessions_page: Any, sessions_stack: SessionStack
) -> None:
    # docs/design.md, "Tracing": API Gateway's WebSocket APIs have no X-Ray, so the trace
    # travels in the frames, and the handler signs it into the backend's request.
    page, stack = sessions_page, sessions_stack
    session = stack.new_session()
    assert start(page, stack.ws_url, session=session)["ok"]
    sent = page.evaluate(TRACED_REQUEST, {"type": "command", "command": "trace"})
    trace = sent["traceparent"]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", trace), sent
    assert (sent["reply"]["id"], sent["reply"]["traceparent"]) == (sent["id"], trace)
    messages = stack.backend("GET", "/api/admin/messages")["messages"]
    commands = [m for m in messages if m["sessionId"] == session and m["type"] == "command"]
    assert [m["traceparent"] for m in commands] == [trace]

    def forwarded() -> list[dict[str, Any]]:
        log = stack.local.services["gateway"].log_path.read_text(errors="replace")
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("traceparent") == trace]

    wait_for(lambda: bool(forwarded()), 10, "the handler's log line with the trace")
    assert [line["message"] for line in forwarded()] == ["message forwarded"]
    page.evaluate("window.bridge.close()")
