"""clients/browser/ws-bridge.js in headless Chromium, against the stack Terraform deployed.

Each test builds a client in the page (`START`), drives it with `page.evaluate` and reads
what it recorded: the events it emitted and the WebSockets the page constructed.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import BrowserStack

pytestmark = pytest.mark.browser

# Builds `window.bridge` with `options`; a token from the page's server on every handshake
# (`window.__tokens` records why each was asked for) unless `options.token` is fixed. Every
# event lands in `window.__events`. Resolves with how connect() ended.
START = """
async ({ wsUrl, options, tokenRequest }) => {
  const { WebSocketBridge } = await import("/client/ws-bridge.js");
  window.__events = [];
  window.__tokens = [];
  window.__tokenRequest = tokenRequest; // a test may change what the next token looks like
  const getToken = async ({ reason }) => {
    const response = await fetch("/api/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(window.__tokenRequest),
    });
    const { token } = await response.json();
    window.__tokens.push({ reason, token });
    return window.__spoilTokens ? `${token}x` : token; // a wrong signature: refused (401)
  };
  const bridge = new WebSocketBridge(wsUrl, options.token ? options : { ...options, getToken });
  for (const type of ["state", "open", "close", "push", "error", "keepalive"]) {
    bridge.on(type, (detail) => {
      const plain =
        detail instanceof Error ? { code: detail.code, message: detail.message } : detail;
      window.__events.push({ type, detail: plain, at: Date.now() });
    });
  }
  window.bridge = bridge;
  try {
    await bridge.connect();
    return { ok: true, protocol: bridge.protocol, state: bridge.state };
  } catch (error) {
    return { ok: false, code: error.code, state: bridge.state };
  }
}
"""

SEND = """
async (message) => {
  try {
    return { ok: true, reply: await window.bridge.send(message) };
  } catch (error) {
    return { ok: false, code: error.code, reply: error.reply ?? null };
  }
}
"""

FAST_BACKOFF = {"baseMs": 200, "maxMs": 1000, "maxAttempts": 4}


def start(
    page: Any,
    stack: BrowserStack,
    *,
    session: str = "lab-1",
    **options: Any,
) -> dict[str, Any]:
    options.setdefault("keepaliveMs", 1000)  # under the gateway's short idle timeout
    options.setdefault("backoff", FAST_BACKOFF)
    result: dict[str, Any] = page.evaluate(
        START,
        {
            "wsUrl": stack.ws_url,
            "options": options,
            "tokenRequest": {"sub": "alice", "session": session, "ttlSeconds": 600},
        },
    )
    return result


def send(page: Any, message: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(SEND, message)
    return result


def events(page: Any, kind: str | None = None) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("window.__events")
    return [e for e in recorded if kind is None or e["type"] == kind]


def sockets(page: Any) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("window.__sockets")
    return recorded


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def connection_id(page: Any) -> str:
    """The connection's id, from the reference backend's reply (it echoes the ids)."""
    result = send(page, {"type": "resize", "cols": 80, "rows": 24})
    assert result["ok"], result
    value: str = result["reply"]["connectionId"]
    return value


# -- connecting -------------------------------------------------------------------------------


def test_subprotocol_connect_keeps_the_token_out_of_the_url(
    page: Any, browser_stack: BrowserStack
) -> None:
    result = start(page, browser_stack, auth="subprotocol")
    assert result == {"ok": True, "protocol": "bearer", "state": "open"}
    [socket] = sockets(page)
    token = page.evaluate("window.__tokens[0].token")
    assert socket["protocols"] == ["bearer", token]
    assert "token=" not in socket["url"]
    # The page's own WebSocket saw the server select `bearer`.
    assert page.evaluate("window.bridge.protocol") == "bearer"

    reply = send(page, {"type": "command", "command": "echo hi"})
    assert reply["ok"], reply
    assert reply["reply"]["type"] == "command_result"
    assert reply["reply"]["result"]["output"] == "echo hi"
    assert (reply["reply"]["userId"], reply["reply"]["sessionId"]) == ("alice", "lab-1")

    pong = send(page, {"type": "ping"})
    assert pong["ok"]
    assert pong["reply"]["type"] == "pong"
    assert isinstance(pong["reply"]["timestamp"], int)


def test_query_string_connect(page: Any, browser_stack: BrowserStack) -> None:
    result = start(page, browser_stack, auth="query")
    assert result == {"ok": True, "protocol": "", "state": "open"}
    [socket] = sockets(page)
    token = page.evaluate("window.__tokens[0].token")
    assert socket["protocols"] == []
    assert f"token={token}" in socket["url"]
    reply = send(page, {"type": "command", "command": "pwd"})
    assert reply["ok"]
    assert reply["reply"]["result"]["output"] == "pwd"


def test_error_replies_reject_with_the_contract_code(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert start(page, browser_stack)["ok"]
    # The reference backend answers an unknown type with its own error reply (numbered).
    result = send(page, {"type": "no-such-type"})
    assert not result["ok"]
    assert result["code"] == "unknown_type"
    assert result["reply"]["type"] == "error"
    assert result["reply"]["seq"] >= 1
    # The connection stays usable.
    assert send(page, {"type": "ping"})["ok"]


def test_a_refused_token_is_not_retried(page: Any, browser_stack: BrowserStack) -> None:
    wrong = browser_stack.token(sub="alice") + "x"  # signature no longer matches: 401
    result = start(page, browser_stack, token=wrong, backoff={"baseMs": 50, "maxMs": 100})
    assert result == {"ok": False, "code": "refused", "state": "closed"}
    time.sleep(1.5)  # ten backoff delays' worth: a retry would have happened
    assert len(sockets(page)) == 1
    states = [e["detail"]["state"] for e in events(page, "state")]
    assert states == ["connecting", "closed"]
    assert events(page, "state")[-1]["detail"]["reason"] == "refused"
    [close] = events(page, "close")
    assert close["detail"]["wasOpen"] is False
    assert close["detail"]["willReconnect"] is False


def test_refusals_while_reconnecting_are_bounded_and_spaced(
    page: Any, browser_stack: BrowserStack
) -> None:
    backoff = {"baseMs": 300, "maxMs": 600, "maxAttempts": 3}
    assert start(page, browser_stack, session="drop-1", backoff=backoff)["ok"]
    first = connection_id(page)
    page.evaluate("window.__spoilTokens = true")  # every later handshake is refused
    browser_stack.drop(first)
    wait_until(
        lambda: page.evaluate("window.bridge.state") == "closed", timeout=10, what="giving up"
    )
    assert events(page, "state")[-1]["detail"]["reason"] == "gave_up"
    opened = sockets(page)
    assert len(opened) == 1 + backoff["maxAttempts"]
    # Each attempt waits at least half its ceiling: 150, 300, 300 ms.
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(opened[1:])]
    assert all(gap >= 250 for gap in gaps), gaps
    assert (
        opened[1]["at"] - page.evaluate("window.__events.find((e) => e.type === 'close').at") >= 140
    )
    assert [t["reason"] for t in page.evaluate("window.__tokens")] == ["connect"] + [
        "reconnect"
    ] * backoff["maxAttempts"]


# -- staying connected -------------------------------------------------------------------------


def test_reconnects_with_a_fresh_token_after_the_gateway_drops_the_socket(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert start(page, browser_stack, session="drop-1")["ok"]
    first = connection_id(page)
    browser_stack.drop(first)

    wait_until(lambda: len(events(page, "open")) == 2, what="a second open")
    second = connection_id(page)
    assert second != first
    closes = events(page, "close")
    assert [c["detail"]["code"] for c in closes] == [1000]
    assert closes[0]["detail"]["willReconnect"] is True
    states = [e["detail"]["state"] for e in events(page, "state")]
    assert states == ["connecting", "open", "reconnecting", "open"]
    assert [t["reason"] for t in page.evaluate("window.__tokens")] == ["connect", "reconnect"]
    assert events(page, "open")[1]["detail"] == {"protocol": "bearer", "reconnected": True}


def test_messages_sent_while_reconnecting_are_queued_and_flushed_in_order(
    page: Any, browser_stack: BrowserStack
) -> None:
    # A backoff long enough that the sends surely happen before the next handshake.
    assert start(page, browser_stack, session="queue-1", backoff={"baseMs": 1500})["ok"]
    first = connection_id(page)
    page.evaluate(
        """() => {
          const off = window.bridge.on("state", ({ state }) => {
            if (state !== "reconnecting") return;
            off();
            window.__replies = Promise.all(
              ["one", "two", "three"].map(
                (command) => window.bridge.send({ type: "command", command })
              )
            );
            window.__pendingWhenQueued = window.bridge.pending;
          });
        }"""
    )
    browser_stack.drop(first)
    page.wait_for_function("window.__replies !== undefined", timeout=10_000)
    replies = page.evaluate("window.__replies")
    assert page.evaluate("window.__pendingWhenQueued") == {"queued": 3, "inflight": 0}
    assert [r["result"]["output"] for r in replies] == ["one", "two", "three"]
    assert {r["connectionId"] for r in replies} != {first}
    assert len(events(page, "open")) == 2


def test_keepalive_holds_a_connection_past_the_idle_timeout(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert start(page, browser_stack, keepaliveMs=1000)["ok"]
    time.sleep(browser_stack.idle_timeout_seconds + 2.5)
    # No close: the gateway saw traffic; the pongs were the client's own, not pushes.
    assert events(page, "close") == []
    assert len(events(page, "open")) == 1
    assert len(events(page, "keepalive")) >= browser_stack.idle_timeout_seconds
    assert events(page, "push") == []
    pings = page.evaluate("window.bridge.pending")
    assert pings["queued"] == 0


def test_without_keepalive_the_idle_timeout_closes_and_it_reconnects(
    page: Any, browser_stack: BrowserStack
) -> None:
    """The other side of the keepalive test: the gateway really does close idle sockets."""
    assert start(page, browser_stack, keepaliveMs=0)["ok"]
    wait_until(
        lambda: events(page, "close"),
        timeout=browser_stack.idle_timeout_seconds + 4,
        what="idle close",
    )
    assert events(page, "close")[0]["detail"]["code"] == 1001
    wait_until(lambda: len(events(page, "open")) == 2, what="the reconnect")


def test_a_push_from_the_backend_is_emitted_as_a_push(
    page: Any, browser_stack: BrowserStack
) -> None:
    assert start(page, browser_stack, session="push-1")["ok"]
    message = {"type": "push", "event": "notice", "text": "hello"}
    answer = browser_stack.backend("POST", "/api/push/session/push-1", message)
    assert answer["sent"] == 1
    pushes = wait_until(lambda: events(page, "push"), what="the push")
    assert [p["detail"] for p in pushes] == [{"seq": answer["seq"], **message}]
    # A push is not taken for the reply of a request sent afterwards.
    reply = send(page, {"type": "command", "command": "after"})
    assert reply["ok"]
    assert reply["reply"]["result"]["output"] == "after"


# -- token expiry (the handler's contract, played by the page's own WebSocket route) ----------


def test_token_expired_asks_for_a_fresh_token_and_sends_the_message_again(
    page: Any, browser_stack: BrowserStack
) -> None:
    """The handler answers a message sent after the token's exp with `token_expired` and
    closes; the client must get a new token, reconnect and send the message again."""
    seen: list[tuple[str, str]] = []

    def handler(ws: Any) -> None:
        url = ws.url

        def on_message(text: Any) -> None:
            seen.append((url, str(text)))
            if len(seen) == 1:
                ws.send(
                    '{"type":"error","error":"token_expired","message":"The token has expired.",'
                    '"requestId":"r-1"}'
                )
                ws.close(code=1000, reason="Connection Closed Normally")
            else:
                ws.send('{"type":"command_result","result":{"output":"again"}}')

        ws.on_message(on_message)

    page.route_web_socket("ws://expiry.test/**", handler)
    result = page.evaluate(
        START,
        {
            "wsUrl": "ws://expiry.test/local",
            "options": {"auth": "query", "keepaliveMs": 0, "backoff": FAST_BACKOFF},
            "tokenRequest": {"sub": "alice", "session": "lab-1", "ttlSeconds": 600},
        },
    )
    assert result["ok"], result
    reply = send(page, {"type": "command", "command": "again"})
    assert reply == {"ok": True, "reply": {"type": "command_result", "result": {"output": "again"}}}
    tokens = page.evaluate("window.__tokens")
    assert [t["reason"] for t in tokens] == ["connect", "token_expired"]
    assert [text for _url, text in seen] == ['{"type":"command","command":"again"}'] * 2
    assert f"token={tokens[1]['token']}" in seen[1][0]
    assert [e["detail"]["code"] for e in events(page, "error")] == ["token_expired"]


def test_the_deployed_handler_closes_an_expired_token_and_the_client_comes_back_fresh(
    page: Any, browser_stack: BrowserStack
) -> None:
    """Against the real handler: a token that expired 5 s ago still connects (the authorizer
    allows its leeway), the first message gets `token_expired` and the handler closes the
    connection; the client asks for a fresh token, reconnects and sends the message again,
    which the backend then answers once."""
    before = browser_stack.backend("GET", "/api/admin/messages")["messages"]
    result = page.evaluate(
        START,
        {
            "wsUrl": browser_stack.ws_url,
            "options": {"keepaliveMs": 0, "backoff": FAST_BACKOFF},
            "tokenRequest": {"sub": "alice", "session": "lab-1", "ttlSeconds": -5},
        },
    )
    assert result["ok"], result
    page.evaluate("window.__tokenRequest.ttlSeconds = 600")
    reply = send(page, {"type": "command", "command": "after expiry"})
    assert reply["ok"], reply
    assert reply["reply"]["result"]["output"] == "after expiry"
    assert [t["reason"] for t in page.evaluate("window.__tokens")] == ["connect", "token_expired"]
    assert [e["detail"]["code"] for e in events(page, "error")] == ["token_expired"]
    closes = [e["detail"]["code"] for e in events(page, "close")]
    assert closes == [1000], closes  # the handler's DELETE @connections
    after = browser_stack.backend("GET", "/api/admin/messages")["messages"][len(before) :]
    assert [m["type"] for m in after] == ["command"]  # the expired one never reached it


# -- the demo page ---------------------------------------------------------------------------


def test_demo_page_connects_pings_commands_receives_a_push_and_survives_a_drop(
    page: Any, browser_stack: BrowserStack, tmp_path: Path
) -> None:
    page.fill("#keepalive", "2")
    page.click("#connect")
    page.wait_for_selector("#state[data-state='open']")
    page.wait_for_function("document.getElementById('connection-id').textContent.length > 5")
    assert page.text_content("#protocol") == "bearer"
    first = page.text_content("#connection-id")

    page.click("#ping")
    page.wait_for_function("document.getElementById('reply').textContent.includes('pong')")
    page.fill("#command", "uname -a")
    page.click("#send-command")
    page.wait_for_function("document.getElementById('reply').textContent.includes('uname -a')")
    page.click("#push")
    page.wait_for_selector("#log li.push")
    page.click("#drop")
    page.wait_for_function(
        f"document.getElementById('connection-id').textContent.length > 5 && "
        f"document.getElementById('connection-id').textContent !== {first!r}",
        timeout=15_000,
    )
    page.wait_for_selector("#state[data-state='open']")
    log = page.text_content("#log") or ""
    assert "reconnected" in log
    assert "close  code 1000, reconnecting" in log
    assert "hello from the backend" in log

    # docs/browser-demo.png is taken this way: BROWSER_DEMO_SCREENSHOT=docs/browser-demo.png
    target = Path(os.environ.get("BROWSER_DEMO_SCREENSHOT") or tmp_path / "browser-demo.png")
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
