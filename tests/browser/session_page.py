"""Driving clients/browser/ws-bridge.js in a page against the stand-in stack
(tests/session_standin): the script that builds `window.bridge` and records what it does,
and the browser client as a drop loop driver."""

from __future__ import annotations

from typing import Any

# Builds `window.bridge` with `options` and records: every event (`window.__events`, with
# performance.now()), every delivered message (`window.__messages`: [seq, message]), the
# replies of `request()` (`window.__replies`), every token asked for (`window.__tokens`) and
# the resumes answered (`window.__resumes`). Tokens come from the page's server
# (`window.__tokenRequest`), spoiled when `window.__spoilTokens`, or are
# `window.__fixedToken` when a test sets it. `randomSequence` replaces
# Math.random with those values, in turn; `fakePage` gives the client a page whose network
# and visibility the test controls (`window.__page`). Resolves with how connect() ended, or
# code "test_timeout" after 20 s.
START = """
async ({ wsUrl, options, tokenRequest, untilOpen }) => {
  const { WebSocketBridge } = await import("/client/ws-bridge.js");
  Object.assign(window, { __events: [], __messages: [], __replies: {}, __tokens: [] });
  Object.assign(window, { __resumes: 0, __tokenRequest: tokenRequest });
  const getToken = async ({ reason }) => {
    window.__tokens.push({ reason, at: performance.now() });
    if (window.__fixedToken) return window.__fixedToken;
    const response = await fetch("/api/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(window.__tokenRequest),
    });
    const { token } = await response.json();
    window.__tokens.at(-1).token = token;
    return window.__spoilTokens ? `${token}x` : token; // a wrong signature: refused (401)
  };
  const settings = { ...options, getToken };
  if (options.randomSequence) {
    let next = 0;
    settings.random = () => options.randomSequence[next++ % options.randomSequence.length];
  }
  if (options.fakePage) {
    const page = new EventTarget();
    page.navigator = { onLine: true };
    page.document = new EventTarget();
    page.document.visibilityState = "visible";
    window.__page = page;
    settings.page = page;
  }
  const bridge = new WebSocketBridge(wsUrl, settings);
  const kinds = ["state", "open", "close", "error", "resume", "resync", "rollover", "unnumbered"];
  for (const type of kinds) {
    bridge.on(type, (detail) => {
      const error = detail instanceof Error;
      const plain = error ? { code: detail.code, message: detail.message } : detail;
      window.__events.push({ type, detail: plain, at: performance.now() });
    });
  }
  bridge.on("message", ({ seq, message }) => window.__messages.push([seq, message]));
  bridge.on("resume", ({ state }) => {
    if (state === "resumed" || state === "resync_required") window.__resumes += 1;
  });
  window.request = (message) =>
    bridge.send(message).then(
      (reply) => (window.__replies[message.id] = reply),
      (error) => (window.__replies[message.id] = error.code),
    );
  window.bridge = bridge;
  // Bounded: a client that never stops trying fails the test in time, not at pytest's limit.
  const pending = Object.assign(new Error("connect() still pending"), { code: "test_timeout" });
  const late = new Promise((_, reject) => setTimeout(() => reject(pending), 20000));
  // untilOpen: resolve at the first open socket (a backend that does not resume yet).
  const opened = new Promise((resolve) => bridge.on("open", resolve));
  const connecting = bridge.connect();
  connecting.catch(() => {}); // how it ends shows in the events too
  try {
    await Promise.race([untilOpen ? Promise.race([opened, connecting]) : connecting, late]);
    return { ok: true, state: bridge.state, protocol: bridge.protocol };
  } catch (error) {
    return { ok: false, code: error.code, message: error.message, state: bridge.state };
  }
}
"""

SEND = """
async (message) => {
  try {
    return { ok: true, reply: await window.bridge.send(message) };
  } catch (error) {
    return { ok: false, code: error.code, message: error.message };
  }
}
"""


def start(
    page: Any,
    ws_url: str,
    *,
    session: str = "s",
    ttl: int = 600,
    until_open: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Build `window.bridge` in `page`: tokens for alice in `session`, valid `ttl` seconds."""
    options.setdefault("backoff", {"baseMs": 50, "maxMs": 200, "maxAttempts": 3})
    options.setdefault("replyTimeoutMs", 5000)
    token_request = {"sub": "alice", "session": session, "ttlSeconds": ttl}
    arguments = {"wsUrl": ws_url, "options": options, "tokenRequest": token_request}
    result: dict[str, Any] = page.evaluate(START, {**arguments, "untilOpen": until_open})
    return result


def send(page: Any, message: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(SEND, message)
    return result


def events(page: Any, kind: str | None = None) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("window.__events")
    return [e for e in recorded if kind is None or e["type"] == kind]


def seqs(page: Any) -> list[int]:
    found: list[int] = page.evaluate("window.__messages.map(([seq]) => seq)")
    return found


class BrowserDriver:
    """The browser client as a drop loop driver (tests/session_standin/drop_loop.py)."""

    def __init__(self, page: Any, ws_url: str, **options: Any) -> None:
        self.page = page
        self.ws_url = ws_url
        self.options = options

    def start(self) -> None:
        result = start(self.page, self.ws_url, **self.options)
        assert result["ok"], result

    def request(self, message: dict[str, Any]) -> None:
        self.page.evaluate("(message) => { window.request(message); }", message)

    def delivered(self) -> list[tuple[int, dict[str, Any]]]:
        found: list[list[Any]] = self.page.evaluate("window.__messages")
        return [(seq, message) for seq, message in found]

    def replies(self) -> dict[str, Any]:
        found: dict[str, Any] = self.page.evaluate("window.__replies")
        return found

    def resumes(self) -> int:
        count: int = self.page.evaluate("window.__resumes")
        return count

    def stop(self) -> None:
        self.page.evaluate("window.bridge.close()")
