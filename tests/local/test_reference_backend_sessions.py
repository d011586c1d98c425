"""The reference backend's side of the session protocol over real HTTP, with a recording
fan-out and control: replies numbered and run once per request id (counted), a repeat while
one runs answered pending, resumes from the stream, numbered output streamed at a rate,
large replies as chunks, kicks that also take the user out of the session, rotations."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
import urllib3
from local_support import BackendFactory, BackendHandle

from ws_bridge_backend.push import PushResult

IDS = {"connectionId": "conn-1", "sessionId": "lab-1", "userId": "alice"}


class Delivery:
    def __init__(self) -> None:
        self.to_sessions: list[tuple[str, list[str], str | None]] = []
        self.to_connections: list[tuple[str, list[str]]] = []

    def to_session(self, session_id: str, frames: Any, exclude: str | None = None) -> PushResult:
        self.to_sessions.append((session_id, list(frames), exclude))
        return PushResult(sent=1)

    def to_connection(self, connection_id: str, frames: Any) -> None:
        self.to_connections.append((connection_id, list(frames)))

    def pushed(self) -> list[dict[str, Any]]:
        return [json.loads(frame) for _, frames, _ in self.to_sessions for frame in frames]


class Control:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def disconnect(self, connection_id: str, reason: str) -> bool:
        self.calls.append(("disconnect", connection_id, reason))
        return True

    def disconnect_user(self, session_id: str, user_id: str, reason: str) -> int:
        self.calls.append(("disconnect_user", session_id, user_id, reason))
        return 2

    def rotate(self, connection_id: str) -> bool:
        self.calls.append(("rotate", connection_id))
        return True

    def rotate_session(self, session_id: str) -> PushResult:
        self.calls.append(("rotate_session", session_id))
        return PushResult(sent=3)


@pytest.fixture
def delivery() -> Delivery:
    return Delivery()


@pytest.fixture
def control() -> Control:
    return Control()


@pytest.fixture
def backend(start_backend: BackendFactory, delivery: Delivery, control: Control) -> BackendHandle:
    return start_backend(delivery=delivery, control=control)


def say(backend: BackendHandle, message: dict[str, Any], connection: str = "conn-1") -> Any:
    response = backend.message({**message, **IDS, "connectionId": connection}, connection)
    assert response.status == 200, response.data
    return json.loads(response.data)


def admin(backend: BackendHandle, method: str, path: str, body: Any = None) -> Any:
    response = backend.request(method, path, body=body)
    return response.status, json.loads(response.data)


def runs(backend: BackendHandle) -> dict[str, int]:
    answer: dict[str, int] = admin(backend, "GET", "/api/admin/requests")[1]["runs"]
    return answer


def test_replies_are_numbered_shared_and_run_once(
    backend: BackendHandle, delivery: Delivery
) -> None:
    first = say(backend, {"type": "command", "command": "ls", "id": "c.1"})
    assert (first["seq"], first["id"], first["type"]) == (1, "c.1", "command_result")
    assert delivery.to_sessions[0][2] == "conn-1"  # to the others, not the requester
    again = say(backend, {"type": "command", "command": "ls", "id": "c.1"}, "conn-2")
    assert again == first
    assert runs(backend) == {"c.1": 1}


def test_a_repeat_while_the_first_runs_is_pending(backend: BackendHandle) -> None:
    answers: list[Any] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            say(backend, {"type": "command", "command": "x", "delay": 1, "id": "c.2"})
        )
    )
    slow.start()
    # The repeat must come while the first runs: wait until the app has started it (the
    # count goes up as a run begins), however long the first request took to arrive.
    deadline = time.monotonic() + 5
    while runs(backend).get("c.2") != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert say(backend, {"type": "command", "command": "x", "delay": 1, "id": "c.2"}, "conn-2") == {
        "type": "pending",
        "id": "c.2",
    }
    slow.join(10)
    assert answers[0]["seq"] == 1
    assert runs(backend) == {"c.2": 1}


def test_a_resume_replays_what_followed(backend: BackendHandle) -> None:
    say(backend, {"type": "command", "command": "a", "id": "c.1"})
    pushed = backend.request("POST", "/api/push/session/lab-1", body={"type": "notice"})
    assert json.loads(pushed.data)["seq"] == 2
    resumed = say(backend, {"type": "resume", "id": "c.9", "lastSeq": 1}, "conn-2")
    assert resumed["type"] == "resumed"
    assert (resumed["headSeq"], resumed["more"]) == (2, False)
    assert resumed["messages"] == [{"seq": 2, "type": "notice"}]
    assert runs(backend) == {"c.1": 1}  # a resume is not a request of the app's


def test_stream_pushes_numbered_lines_at_a_rate(backend: BackendHandle, delivery: Delivery) -> None:
    started = say(backend, {"type": "stream", "lines": 5, "interval": 0.05, "id": "c.3"})
    assert (started["type"], started["lines"]) == ("stream_started", 5)
    deadline = time.monotonic() + 10
    while len(delivery.pushed()) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = [frame for frame in delivery.pushed() if frame["type"] == "output"]
    assert [frame["line"] for frame in lines] == [1, 2, 3, 4, 5]
    seqs = [frame["seq"] for frame in lines]
    assert seqs == sorted(seqs)
    assert sorted([*seqs, started["seq"]]) == [1, 2, 3, 4, 5, 6]
    status, answer = admin(backend, "POST", "/api/admin/sessions/lab-1/stream", {"lines": 2})
    assert (status, answer["lines"]) == (200, 2)
    assert admin(backend, "POST", "/api/admin/sessions/lab-9/stream", {"lines": 2})[0] == 404
    for bad in ({"lines": 0}, {"lines": 1.5}, {"interval": -1}, {"bytes": "x"}):
        assert admin(backend, "POST", "/api/admin/sessions/lab-1/stream", bad)[0] == 400
    assert (
        say(backend, {"type": "stream", "lines": 10**9, "id": "c.4"})["error"] == "invalid_stream"
    )


def test_a_reply_over_128_kb_goes_as_chunks(backend: BackendHandle, delivery: Delivery) -> None:
    first = say(backend, {"type": "cat", "bytes": 300_000, "id": "c.5"})
    assert first["type"] == "chunk"
    frames = [json.loads(frame) for frame in delivery.to_sessions[0][1]]
    assert delivery.to_connections == [("conn-1", delivery.to_sessions[0][1][1:])]
    data = b"".join(base64.b64decode(frame["data"]) for frame in frames)
    joined = json.loads(data)
    assert (joined["type"], joined["bytes"], len(joined["text"]), joined["id"]) == (
        "cat_result",
        300_000,
        300_000,
        "c.5",
    )


def test_a_kick_takes_the_user_out_and_closes_their_connections(
    backend: BackendHandle, control: Control
) -> None:
    status, answer = admin(
        backend, "POST", "/api/admin/kick", {"sessionId": "lab-1", "userId": "bob", "reason": "bye"}
    )
    assert (status, answer) == (200, {"kicked": 2, "removed": True})
    assert control.calls == [("disconnect_user", "lab-1", "bob", "bye")]
    assert backend.validate("lab-1", "bob").status == 403  # a reconnect is refused
    assert admin(backend, "POST", "/api/admin/kick", {"connectionId": "c9"})[1] == {"kicked": 1}
    assert admin(backend, "POST", "/api/admin/kick", {"sessionId": "lab-1"})[0] == 400


def test_rotations_reach_a_connection_or_a_session(
    backend: BackendHandle, control: Control
) -> None:
    assert admin(backend, "POST", "/api/admin/rotate", {"connectionId": "c1"})[1] == {"rotated": 1}
    assert admin(backend, "POST", "/api/admin/rotate", {"sessionId": "lab-1"})[1] == {"rotated": 3}
    assert control.calls == [("rotate", "c1"), ("rotate_session", "lab-1")]
    assert admin(backend, "POST", "/api/admin/rotate", {})[0] == 400


def test_without_a_table_kicks_and_rotations_are_503(start_backend: BackendFactory) -> None:
    backend = start_backend()
    for path in ("/api/admin/kick", "/api/admin/rotate"):
        response: urllib3.BaseHTTPResponse = backend.request(
            "POST", path, body={"connectionId": "c"}
        )
        assert response.status == 503
