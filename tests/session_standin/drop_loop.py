"""The drop loop: a session streams numbered output while its client's connection is cut
again and again, and its client must deliver every line once, in order, and get every reply
once. It takes URLs, so the same loop runs against the stand-in (tests/clients,
tests/browser) and against the local stack (the gateway's fault endpoint, the backend's
push), and a driver, so it runs the Python client and the browser client alike.

    result = run_drop_loop(Target(ws_url, faults_url, push_url, "lab-1"), driver, drops=100)
    result.check()
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Target:
    """Where the session lives: its WebSocket URL, the base URL of the faults endpoint
    (``POST /_wslocal/faults/drop``), the base URL of the push endpoint (``POST
    /api/push/session/{id}``) and the session's id."""

    ws_url: str
    faults_url: str
    push_url: str
    session_id: str

    def drop(self) -> list[str]:
        answer = post(f"{self.faults_url}/_wslocal/faults/drop", {"sessionId": self.session_id})
        dropped: list[str] = answer["dropped"]
        return dropped

    def push(self, message: dict[str, Any]) -> None:
        post(f"{self.push_url}/api/push/session/{self.session_id}", message)


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the stack's own http://127.0.0.1 ports
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


class Driver(Protocol):
    """A client under test, driven from this thread."""

    def start(self) -> None: ...  # connect; returns once the session resumed
    def request(self, message: dict[str, Any]) -> None: ...  # send; the reply is recorded
    def delivered(self) -> list[tuple[int, dict[str, Any]]]: ...  # (seq, message), in order
    def replies(self) -> dict[str, Any]: ...  # request id -> reply (or error code)
    def resumes(self) -> int: ...  # resumes answered so far
    def stop(self) -> None: ...


@dataclass
class LoopResult:
    lines: int
    drops: int
    requests: list[str]
    delivered: list[tuple[int, dict[str, Any]]]
    replies: dict[str, Any]
    executed: Callable[[str], int] | None = None
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        seqs = [seq for seq, _ in self.delivered]
        if seqs != sorted(set(seqs)):
            self.problems.append(f"seqs not strictly increasing: {seqs[:50]}...")
        lines = [m["line"] for _, m in self.delivered if m.get("type") == "output"]
        lost = sorted(set(range(1, self.lines + 1)) - set(lines))
        duplicated = sorted({line for line in lines if lines.count(line) > 1})
        if lost or duplicated:
            self.problems.append(f"lines lost {lost[:20]} duplicated {duplicated[:20]}")
        if lines != sorted(lines):
            self.problems.append("lines out of order")
        unanswered = [rid for rid in self.requests if rid not in self.replies]
        if unanswered:
            self.problems.append(f"requests without a reply: {unanswered}")
        if self.executed is not None:
            twice = {rid: self.executed(rid) for rid in self.requests if self.executed(rid) != 1}
            if twice:
                self.problems.append(f"requests not run exactly once: {twice}")
        assert not self.problems, "\n".join(self.problems)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.01)


def run_drop_loop(
    target: Target,
    driver: Driver,
    *,
    drops: int = 100,
    lines: int = 400,
    push_interval: float = 0.01,
    request_every: int = 10,
    executed: Callable[[str], int] | None = None,
    timeout: float = 120.0,
) -> LoopResult:
    """Stream ``lines`` numbered lines through the push endpoint while cutting the client's
    connection ``drops`` times (each after the client resumed on a new connection), with a
    request every ``request_every`` drops; then wait until everything arrived."""
    driver.start()
    pushing_done = threading.Event()

    def pusher() -> None:
        for line in range(1, lines + 1):
            target.push({"type": "output", "line": line})
            time.sleep(push_interval)
        pushing_done.set()

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    requests: list[str] = []
    forced = 0
    deadline = time.monotonic() + timeout
    while forced < drops and time.monotonic() < deadline:
        resumed = driver.resumes()
        if target.drop():
            forced += 1
            wait_for(lambda r=resumed: driver.resumes() > r, 30, f"a resume after drop {forced}")
            if forced % request_every == 0:
                rid = f"loop.{forced}"
                requests.append(rid)
                driver.request({"type": "command", "command": f"after drop {forced}", "id": rid})
        else:
            time.sleep(0.01)
    thread.join(timeout=max(1.0, deadline - time.monotonic()))

    def complete() -> bool:
        seen = {m.get("line") for _, m in driver.delivered()}
        return (
            pushing_done.is_set()
            and seen >= set(range(1, lines + 1))
            and all(rid in driver.replies() for rid in requests)
        )

    wait_for(complete, max(5.0, deadline - time.monotonic()), "every line and reply")
    result = LoopResult(lines, forced, requests, driver.delivered(), driver.replies(), executed)
    driver.stop()
    assert forced == drops, f"only {forced} of {drops} drops hit a connection in time"
    return result
