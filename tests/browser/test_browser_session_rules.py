"""The browser client's rules, in headless Chromium against the stand-in stack: after
token_expired it backs off and wants a later token, within maxAttempts; a pushed
token_expired runs nothing twice; a kick sticks; the size limit and the bounded queue; chunks,
gaps and resync; the heartbeat; reconnects that wait while the page is offline or hidden."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from session_page import events, send, seqs, start

from session_standin.drop_loop import wait_for
from session_standin.fixtures import PUSHED_TOKEN_EXPIRED, push_like_a_backend

if TYPE_CHECKING:
    from conftest import StandInPage

pytestmark = pytest.mark.browser

# Delays of 0.5, 1.1 and 2.4 s: each at least 0.5 s from what it would be without jitter
# (1, 2, 4 s), a margin the 0.4 s tolerance below keeps on a loaded machine.
BACKOFF = {"baseMs": 1000, "maxMs": 4000, "maxAttempts": 3}
RANDOM = [0.0, 0.1, 0.2, 0.3]


def expected_delays(count: int) -> list[float]:
    """Attempt n waits c/2 + r*c/2, c = min(maxMs, baseMs*2^(n-1)), r from RANDOM in turn
    (docs/design.md), in seconds: written out here, not taken from the client."""
    ceilings = [min(BACKOFF["maxMs"], BACKOFF["baseMs"] * 2**n) for n in range(count)]
    return [(c / 2 + r * c / 2) / 1000 for c, r in zip(ceilings, RANDOM, strict=False)]


def assert_spaced(times_ms: list[float], delays: list[float]) -> None:
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(times_ms)]
    assert len(gaps) == len(delays), (gaps, delays)
    for gap, delay in zip(gaps, delays, strict=True):
        assert delay - 0.02 <= gap <= delay + 0.4, (gaps, delays)


def expired_token(seconds_ago: int = 5) -> str:
    return jwt.encode({"sub": "alice", "exp": int(time.time()) - seconds_ago}, "k" * 32)


def test_the_same_expired_token_again_makes_no_handshake_and_stops_after_max_attempts(
    standin_page: StandInPage,
) -> None:
    page, standin = standin_page.page, standin_page.standin
    page.evaluate("(token) => { window.__fixedToken = token; }", expired_token())
    result = start(page, standin.url, backoff=BACKOFF, randomSequence=RANDOM)
    assert (result["ok"], result["code"], result["state"]) == (False, "token_expired", "closed")
    assert "no fresh token after 3 attempts" in result["message"]
    assert len(standin.handshakes) == 1  # the same token is never presented again
    tokens = page.evaluate("window.__tokens")
    assert [t["reason"] for t in tokens] == ["connect"] + ["token_expired"] * 3
    [close] = events(page, "close")
    assert_spaced([close["at"]] + [t["at"] for t in tokens[1:]], expected_delays(3))
    time.sleep(1.0)
    assert len(page.evaluate("window.__tokens")) == 4  # and then nothing more


def test_new_tokens_refused_too_make_at_most_max_attempts_handshakes_spaced_by_backoff(
    standin_page: StandInPage,
) -> None:
    """Each token is later than the one refused before it, and already past its exp: the
    authorizer lets it in (its leeway), the handler refuses the resume."""
    page, standin = standin_page.page, standin_page.standin
    page.evaluate(
        """() => {
          let exp = Math.floor(Date.now() / 1000) - 20;
          window.__nextToken = () => {
            const part = (o) => btoa(JSON.stringify(o)).replace(/=+$/, "");
            exp += 1;
            return `${part({ alg: "none" })}.${part({ sub: "alice", exp })}.sig`;
          };
        }"""
    )
    page.evaluate(
        "() => Object.defineProperty(window, '__fixedToken', { get: window.__nextToken })"
    )
    result = start(page, standin.url, backoff=BACKOFF, randomSequence=RANDOM)
    assert (result["ok"], result["code"]) == (False, "token_expired")
    assert len(standin.handshakes) == 1 + BACKOFF["maxAttempts"]
    assert all(h.status == 101 for h in standin.handshakes)
    # Timed in the page (the token asked for, then the handshake): each attempt after the
    # close that ended the one before, by the backoff.
    asked = [t["at"] for t in page.evaluate("window.__tokens")][1:]
    closes = [c["at"] for c in events(page, "close")][:-1]
    gaps = [(a - c) / 1000 for c, a in zip(closes, asked, strict=True)]
    for gap, delay in zip(gaps, expected_delays(3), strict=True):
        assert delay - 0.02 <= gap <= delay + 0.4, gaps


@pytest.mark.parametrize("pushed", PUSHED_TOKEN_EXPIRED)
def test_a_pushed_token_expired_makes_no_request_run_twice(
    standin_page: StandInPage, pushed: dict[str, Any]
) -> None:
    page, standin = standin_page.page, standin_page.standin
    assert start(page, standin.url)["ok"]
    page.evaluate(
        "() => { window.request({ type: 'command', command: 'slow', delay: 0.6, id: 'p.1' }); }"
    )
    wait_for(lambda: standin.received("p.1") == 1, 5, "the request at the backend")
    push_like_a_backend(standin, pushed)
    wait_for(lambda: "p.1" in page.evaluate("window.__replies"), 5, "the reply")
    assert page.evaluate("window.__replies['p.1'].output") == "slow"
    assert (standin.received("p.1"), standin.executed("p.1")) == (1, 1)
    assert len(standin.handshakes) == 1
    assert events(page, "close") == []
    if pushed.get("numbered"):  # a stream message of its own: delivered, nothing more
        assert page.evaluate("window.__messages[0][1].error") == "token_expired"
    else:
        assert [e["detail"] for e in events(page, "unnumbered")] == [pushed]


def test_a_kick_sticks(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    assert start(page, standin.url)["ok"]
    page.evaluate("() => { window.request({ type: 'command', delay: 1, id: 'k.1' }); }")
    wait_for(lambda: standin.received("k.1") == 1, 5, "the request at the backend")
    standin.send_raw({"type": "kicked", "reason": "removed from the session"})
    wait_for(lambda: page.evaluate("window.bridge.state") == "closed", 5, "closed")
    assert page.evaluate("window.__replies['k.1']") == "kicked"
    assert events(page, "state")[-1]["detail"]["reason"] == "kicked"
    time.sleep(1.0)
    assert len(standin.handshakes) == 1


def test_sizes_and_the_bounded_queue(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    assert start(page, standin.url, maxQueue=2)["ok"]
    frames = len(standin.frames)
    # A browser sends one frame a message; API Gateway closes on a frame over 32 KB.
    refused = send(page, {"type": "command", "command": "y" * 40_000})
    assert (refused["ok"], refused["code"]) == (False, "message_too_large")
    assert len(standin.frames) == frames
    assert (
        send(page, {"type": "command", "command": "y" * 30_000})["reply"]["output"] == "y" * 30_000
    )
    # A reply over 128 KB comes in chunks and is delivered once, at its last chunk's seq.
    reply = send(page, {"type": "big", "size": 300_000})["reply"]
    assert len(reply["text"]) == 300_000
    assert seqs(page) == [1, 5]
    page.evaluate(
        """() => {
          for (const id of ["q.1", "q.2"]) window.request({ type: "command", delay: 0.3, id });
        }"""
    )
    assert send(page, {"type": "command", "command": "third"})["code"] == "queue_full"
    wait_for(lambda: len(page.evaluate("window.__replies")) == 2, 5, "the two replies")


def test_a_gap_is_filled_by_a_resume_and_an_old_gap_asks_for_a_resync(
    standin_page: StandInPage,
) -> None:
    page, standin = standin_page.page, standin_page.standin
    standin.backend.buffer_size = 5
    assert start(page, standin.url, gapTimeoutMs=200)["ok"]
    standin.push("s", {"type": "output", "line": 1}, send=False)  # lost on its way
    standin.push("s", {"type": "output", "line": 2})
    time.sleep(0.1)
    assert seqs(page) == []
    wait_for(lambda: seqs(page) == [1, 2], 5, "the gap filled by a resume")
    standin.faults.reject_status = 503  # hold reconnects off while the stream moves on
    standin.drop()
    for line in range(3, 20):
        standin.push("s", {"type": "output", "line": line})
    standin.faults.reject_status = None
    wait_for(lambda: events(page, "resync"), 10, "resync")
    assert events(page, "resync")[0]["detail"] == {"headSeq": 19, "lastSeq": 19}
    assert page.evaluate("window.bridge.resumeState") == "resync_required"
    standin.push("s", {"type": "output", "line": 20})
    wait_for(lambda: seqs(page) == [1, 2, 20], 5, "after the resync")


def test_the_heartbeat_finds_a_peer_that_stopped_answering(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    assert start(page, standin.url, keepaliveMs=200, replyTimeoutMs=300)["ok"]
    standin.faults.silent = True
    wait_for(lambda: events(page, "close"), 5, "the dead connection closed")
    standin.faults.silent = False
    wait_for(lambda: page.evaluate("window.__resumes") == 2, 5, "resumed on a new connection")
    assert events(page, "close")[0]["detail"]["code"] == 4000


BACK_EVENTS = """
  window.__page.dispatchEvent(new Event("online"));
  window.__page.document.dispatchEvent(new Event("visibilitychange"));
"""


def test_reconnects_wait_while_the_page_is_offline_or_hidden(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    assert start(page, standin.url, fakePage=True)["ok"]
    page_ = "window.__page"
    for going, back in [
        (f"{page_}.navigator.onLine = false", f"{page_}.navigator.onLine = true"),
        (
            f"{page_}.document.visibilityState = 'hidden'",
            f"{page_}.document.visibilityState = 'visible'",
        ),
    ]:
        handshakes = len(standin.handshakes)
        page.evaluate(f"() => {{ {going}; }}")
        standin.drop()
        time.sleep(1.0)  # the backoff is 25-50 ms: attempts would have happened
        assert len(standin.handshakes) == handshakes
        assert events(page, "state")[-1]["detail"] == events(page, "state")[-1]["detail"] | {
            "state": "reconnecting",
            "reason": "paused",
        }
        page.evaluate(f"() => {{ {back}; {BACK_EVENTS} }}")
        wait_for(lambda h=handshakes: len(standin.handshakes) == h + 1, 5, "reconnected at once")
        wait_for(lambda: page.evaluate("window.bridge.resumeState") == "resumed", 5, "resumed")
    # Back while connected: a ping checks the connection.
    pings = sum(1 for _, text in standin.frames if text == '{"type":"ping"}')
    page.evaluate("() => { window.__page.dispatchEvent(new Event('online')); }")
    wait_for(
        lambda: sum(1 for _, t in standin.frames if t == '{"type":"ping"}') == pings + 1,
        5,
        "a ping",
    )


def test_a_first_handshake_refused_is_final(standin_page: StandInPage) -> None:
    page, standin = standin_page.page, standin_page.standin
    standin.faults.reject_status = 401
    result = start(page, standin.url)
    assert (result["ok"], result["code"], result["state"]) == (False, "refused", "closed")
    time.sleep(0.5)
    assert len(standin.handshakes) == 1
