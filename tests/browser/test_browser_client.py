"""clients/browser/ws-bridge.js in headless Chromium against the stack Terraform deployed:
what the deployed authorizer, handler and local gateway decide at the handshake and on the
socket (where the token goes, a refusal, the gateway's drops and idle timeout). The session
protocol itself (resume, dedup, resends, tokens, chunks) is tested against the stand-in in
test_browser_sessions.py and test_browser_session_rules.py; these tests hold whether the
stack's backend resumes sessions or not, so they wait for an open socket, not a resume.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from session_page import events, start

from session_standin.drop_loop import post

if TYPE_CHECKING:
    from conftest import BrowserStack

pytestmark = pytest.mark.browser

# A resume the stack's backend may not answer yet must not end a test's connection.
PATIENT = {"replyTimeoutMs": 20_000, "keepaliveMs": 1000}
FAST_BACKOFF = {"baseMs": 200, "maxMs": 1000, "maxAttempts": 4}


def open_bridge(page: Any, stack: BrowserStack, session: str = "lab-1", **options: Any) -> Any:
    settings = {**PATIENT, "backoff": FAST_BACKOFF, **options}
    return start(page, stack.ws_url, session=session, until_open=True, **settings)


def sockets(page: Any) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("window.__sockets")
    return recorded


def drop(stack: BrowserStack, session: str) -> list[str]:
    """The gateway's fault endpoint: the session's sockets cut, no close frame."""
    root = urlsplit(stack.connections_url)
    answer = post(f"{root.scheme}://{root.netloc}/_wslocal/faults/drop", {"sessionId": session})
    dropped: list[str] = answer["dropped"]
    return dropped


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_subprotocol_connect_keeps_the_token_out_of_the_url(
    page: Any, browser_stack: BrowserStack
) -> None:
    result = open_bridge(page, browser_stack, auth="subprotocol")
    assert (result["ok"], result["protocol"]) == (True, "bearer")
    [socket] = sockets(page)
    token = page.evaluate("window.__tokens[0].token")
    assert socket["protocols"] == ["bearer", token]
    assert "token=" not in socket["url"]
    assert events(page, "open")[0]["detail"]["reconnected"] is False


def test_query_string_connect(page: Any, browser_stack: BrowserStack) -> None:
    result = open_bridge(page, browser_stack, auth="query")
    assert (result["ok"], result["protocol"]) == (True, "")
    [socket] = sockets(page)
    token = page.evaluate("window.__tokens[0].token")
    assert socket["protocols"] == []
    assert f"token={token}" in socket["url"]


def test_a_refused_token_is_not_retried(page: Any, browser_stack: BrowserStack) -> None:
    page.evaluate("window.__fixedToken = 'not-a-valid.jwt.token'")
    result = open_bridge(page, browser_stack, backoff={"baseMs": 50, "maxMs": 100})
    assert (result["ok"], result["code"], result["state"]) == (False, "refused", "closed")
    time.sleep(1.5)  # ten backoff delays' worth: a retry would have happened
    assert len(sockets(page)) == 1
    assert [e["detail"]["state"] for e in events(page, "state")] == ["connecting", "closed"]
    [close] = events(page, "close")
    assert (close["detail"]["wasOpen"], close["detail"]["willReconnect"]) == (False, False)


def test_refusals_while_reconnecting_are_bounded_and_spaced(
    page: Any, browser_stack: BrowserStack
) -> None:
    backoff = {"baseMs": 300, "maxMs": 600, "maxAttempts": 3}
    assert open_bridge(page, browser_stack, session="drop-1", backoff=backoff)["ok"]
    page.evaluate("window.__spoilTokens = true")  # every later handshake is refused (401)
    assert len(drop(browser_stack, "drop-1")) == 1
    wait_until(lambda: page.evaluate("window.bridge.state") == "closed", 10, "giving up")
    assert events(page, "state")[-1]["detail"]["reason"] == "gave_up"
    opened = sockets(page)
    assert len(opened) == 1 + backoff["maxAttempts"]
    # Each attempt waits at least half its ceiling: 150, 300, 300 ms.
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(opened[1:])]
    assert all(gap >= 250 for gap in gaps), gaps
    reasons = [t["reason"] for t in page.evaluate("window.__tokens")]
    assert reasons == ["connect"] + ["reconnect"] * backoff["maxAttempts"]


def test_reconnects_with_a_fresh_token_after_the_gateway_drops_the_socket(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert open_bridge(page, browser_stack, session="drop-1")["ok"]
    [first] = drop(browser_stack, "drop-1")
    wait_until(lambda: len(events(page, "open")) == 2, what="a second open")
    [second] = wait_until(lambda: drop(browser_stack, "drop-1"), what="the new connection")
    assert second != first
    assert [c["detail"]["code"] for c in events(page, "close")] == [1006, 1006]
    assert all(c["detail"]["willReconnect"] for c in events(page, "close"))
    tokens = page.evaluate("window.__tokens")
    assert [t["reason"] for t in tokens][:2] == ["connect", "reconnect"]
    assert events(page, "open")[1]["detail"]["reconnected"] is True


def test_keepalive_holds_a_connection_past_the_idle_timeout(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert open_bridge(page, browser_stack, keepaliveMs=1000)["ok"]
    time.sleep(browser_stack.idle_timeout_seconds + 2.5)
    assert events(page, "close") == []  # the gateway saw the pings, the handler's pongs
    assert len(events(page, "open")) == 1


def test_without_keepalive_the_idle_timeout_closes_and_it_reconnects(
    page: Any, browser_stack: BrowserStack
) -> None:
    """The other side of the keepalive test: the gateway really does close idle sockets."""
    assert open_bridge(page, browser_stack, keepaliveMs=0)["ok"]
    wait_until(
        lambda: events(page, "close"),
        timeout=browser_stack.idle_timeout_seconds + 4,
        what="idle close",
    )
    assert events(page, "close")[0]["detail"]["code"] == 1001
    wait_until(lambda: len(events(page, "open")) == 2, what="the reconnect")
