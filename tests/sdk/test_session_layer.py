"""The session layer as a backend's message route uses it: replies numbered with their
request's id and shared with the session's other connections, each request run once (a
repeat answered with the stored reply, or pending while it runs), resumes answered from
the stream within one 128 KB message, chunks for large replies, a size limit, and 503 when
the store is out of reach. The stores are the memory ones (test_stream.py and
test_idempotency.py run both kinds); the fan-out is recorded."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from session_support import join_chunks

from ws_bridge_backend.calls import BridgeCall
from ws_bridge_backend.frames import MAX_MESSAGE_BYTES
from ws_bridge_backend.idempotency import MemoryRequestLedger
from ws_bridge_backend.push import PushResult
from ws_bridge_backend.sessions import SessionError, SessionLayer
from ws_bridge_backend.stream import MemoryStream, SessionStoreError, StreamSettings


class Recorder:
    """A fan-out that records what it was asked to send."""

    def __init__(self) -> None:
        self.to_sessions: list[tuple[str, list[str], str | None]] = []
        self.to_connections: list[tuple[str, list[str]]] = []

    def to_session(
        self, session_id: str, frames: Sequence[str], exclude: str | None = None
    ) -> PushResult:
        self.to_sessions.append((session_id, list(frames), exclude))
        return PushResult(sent=len(frames))

    def to_connection(self, connection_id: str, frames: Sequence[str]) -> None:
        self.to_connections.append((connection_id, list(frames)))


class App:
    """An app handler that counts its runs: ``command`` echoes, ``fail`` raises a
    SessionError, ``crash`` raises, ``big`` answers ``size`` bytes of text."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.gate: threading.Event | None = None

    def __call__(self, call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        self.runs.append(str(message.get("id")))
        if self.gate is not None:
            assert self.gate.wait(10)
        kind = message.get("type")
        if kind == "fail":
            raise SessionError("unknown_command", "no such command")
        if kind == "crash":
            raise RuntimeError("the app broke")
        if kind == "big":
            return {"type": "big_result", "text": "é" * (int(message["size"]) // 2)}
        return {"type": "command_result", "output": message.get("command"), "seq": 99}


def call(message: dict[str, Any], connection: str = "conn-a", user: str = "alice") -> BridgeCall:
    body = {**message, "connectionId": connection, "sessionId": "lab-1", "userId": user}
    return BridgeCall("message", connection, "lab-1", user, body)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def layer(recorder: Recorder) -> SessionLayer:
    return SessionLayer(MemoryStream(), MemoryRequestLedger(), recorder)


def frame_of(answer: Any) -> dict[str, Any]:
    assert answer.status == 200
    decoded: dict[str, Any] = json.loads(answer.body)
    return decoded


def test_a_reply_is_numbered_with_its_id_and_sent_to_the_other_connections(
    layer: SessionLayer, recorder: Recorder
) -> None:
    app = App()
    answer = layer.handle(call({"type": "command", "command": "ls", "id": "c.2"}), app)
    reply = frame_of(answer)
    # The app's own "seq" is not the stream's: the layer numbers every frame.
    assert reply == {"seq": 1, "type": "command_result", "output": "ls", "id": "c.2"}
    assert recorder.to_sessions == [("lab-1", [answer.body.decode()], "conn-a")]
    pushed = layer.push("lab-1", {"type": "output", "line": 1})
    assert (pushed.first_seq, pushed.last_seq) == (2, 2)
    assert recorder.to_sessions[-1] == ("lab-1", ['{"seq":2,"type":"output","line":1}'], None)


def test_a_repeat_gets_the_stored_reply_and_runs_nothing(layer: SessionLayer) -> None:
    app = App()
    first = layer.handle(call({"type": "command", "command": "rm x", "id": "c.2"}), app)
    layer.push("lab-1", {"type": "output", "line": 1})
    # Resent after a reconnect, on another connection of the same user.
    again = layer.handle(call({"type": "command", "command": "rm x", "id": "c.2"}, "conn-b"), app)
    assert again.body == first.body  # the same frame, the same seq
    assert app.runs == ["c.2"]
    # Another user's request with the same id is another request.
    other = layer.handle(call({"type": "command", "command": "rm x", "id": "c.2"}, user="bob"), app)
    assert frame_of(other)["seq"] == 3
    assert app.runs == ["c.2", "c.2"]


def test_a_repeat_while_the_first_runs_gets_pending(layer: SessionLayer) -> None:
    app = App()
    app.gate = threading.Event()
    answers: list[Any] = []
    first = threading.Thread(
        target=lambda: answers.append(layer.handle(call({"type": "command", "id": "c.2"}), app))
    )
    first.start()
    while not app.runs:
        threading.Event().wait(0.01)
    repeat = layer.handle(call({"type": "command", "id": "c.2"}, "conn-b"), app)
    assert frame_of(repeat) == {"type": "pending", "id": "c.2"}  # not numbered
    app.gate.set()
    first.join(10)
    assert frame_of(answers[0])["seq"] == 1
    assert layer.handle(call({"type": "command", "id": "c.2"}), app).body == answers[0].body
    assert app.runs == ["c.2"]


def test_an_app_error_is_a_numbered_reply_kept_like_any_other(layer: SessionLayer) -> None:
    app = App()
    answer = layer.handle(call({"type": "fail", "id": "c.3"}), app)
    assert frame_of(answer) == {
        "seq": 1,
        "type": "error",
        "error": "unknown_command",
        "message": "no such command",
        "id": "c.3",
    }
    assert layer.handle(call({"type": "fail", "id": "c.3"}), app).body == answer.body
    assert app.runs == ["c.3"]


def test_a_request_that_crashed_runs_again_when_resent(layer: SessionLayer) -> None:
    app = App()
    with pytest.raises(RuntimeError):
        layer.handle(call({"type": "crash", "id": "c.4"}), app)
    with pytest.raises(RuntimeError):
        layer.handle(call({"type": "crash", "id": "c.4"}), app)
    assert app.runs == ["c.4", "c.4"]
    assert layer.stream.read("lab-1", 0, 1000).head == 0  # nothing numbered


def test_requests_without_an_id_run_each_time_and_bad_ids_never(
    layer: SessionLayer, recorder: Recorder
) -> None:
    app = App()
    for _ in range(2):
        reply = frame_of(layer.handle(call({"type": "command"}), app))
        assert "id" not in reply
    assert app.runs == ["None", "None"]
    for bad in ("", "x" * 65, "a b", "é", 7, None):
        if bad is None:
            continue
        answer = frame_of(layer.handle(call({"type": "command", "id": bad}), app))
        assert answer["error"] == "invalid_id"
        assert "seq" not in answer
    assert len(app.runs) == 2


def test_a_resume_replays_the_gap_as_first_sent(layer: SessionLayer) -> None:
    app = App()
    replies = [layer.handle(call({"type": "command", "id": f"c.{n}"}), app) for n in (1, 2)]
    layer.push("lab-1", {"type": "output", "line": 1})
    answer = layer.handle(call({"type": "resume", "id": "c.9", "lastSeq": 1}, "conn-b"), app)
    text = answer.body.decode()
    assert text == (
        '{"type":"resumed","id":"c.9","headSeq":3,"messages":['
        f'{replies[1].body.decode()},{{"seq":3,"type":"output","line":1}}],"more":false}}'
    )
    assert app.runs == ["c.1", "c.2"]  # a resume never reaches the app


def test_a_long_gap_comes_in_answers_of_at_most_128_kb(layer: SessionLayer) -> None:
    for line in range(12):
        layer.push("lab-1", {"type": "output", "line": line, "text": "x" * 30_000})
    seen: list[int] = []
    last, answers = 0, 0
    while True:
        answer = layer.handle(
            call({"type": "resume", "id": f"r.{answers}", "lastSeq": last}), App()
        )
        assert len(answer.body) <= MAX_MESSAGE_BYTES
        frame = frame_of(answer)
        answers += 1
        seen += [message["seq"] for message in frame["messages"]]
        last = seen[-1]
        if not frame["more"]:
            break
    assert seen == list(range(1, 13))
    assert answers == 3  # four 30 KB frames fit one answer


def test_a_resume_before_the_buffer_is_told_to_resync(recorder: Recorder) -> None:
    layer = SessionLayer(MemoryStream(StreamSettings(max_messages=16)), MemoryRequestLedger())
    for line in range(20):
        layer.push("lab-1", {"type": "output", "line": line})
    assert frame_of(layer.handle(call({"type": "resume", "id": "r.1", "lastSeq": 3}), App())) == {
        "type": "resync_required",
        "id": "r.1",
        "headSeq": 20,
    }
    held = frame_of(layer.handle(call({"type": "resume", "id": "r.2", "lastSeq": 4}), App()))
    assert [m["seq"] for m in held["messages"]] == list(range(5, 21))
    for bad in (-1, "3", 2.5, True, None):
        refused = frame_of(
            layer.handle(call({"type": "resume", "id": "r.3", "lastSeq": bad}), App())
        )
        assert (refused["error"], refused["id"]) == ("invalid_resume", "r.3")


def test_a_large_reply_goes_as_chunks_the_first_as_the_answer(
    layer: SessionLayer, recorder: Recorder
) -> None:
    app = App()
    answer = layer.handle(call({"type": "big", "size": 300_000, "id": "c.5"}), app)
    first = frame_of(answer)
    _, to_others, excluded = recorder.to_sessions[0]
    connection, to_requester = recorder.to_connections[0]
    assert (excluded, connection) == ("conn-a", "conn-a")
    frames = [json.loads(frame) for frame in to_others]
    assert frames[0] == first
    assert [frame["seq"] for frame in frames] == [1, 2, 3, 4]
    assert to_requester == to_others[1:]  # the answer carries one frame only
    joined = join_chunks(frames)
    assert joined == {"type": "big_result", "text": "é" * 150_000, "id": "c.5"}
    # A repeat: the same first chunk as the answer, the rest pushed to the requester alone.
    again = layer.handle(call({"type": "big", "size": 300_000, "id": "c.5"}, "conn-b"), app)
    assert again.body == answer.body
    assert recorder.to_connections[-1] == ("conn-b", to_others[1:])
    assert app.runs == ["c.5"]


def test_messages_beyond_the_limit_are_refused_clearly(layer: SessionLayer) -> None:
    app = App()
    reply = frame_of(layer.handle(call({"type": "big", "size": 2_200_000, "id": "c.6"}), app))
    assert (reply["type"], reply["error"], reply["id"], reply["seq"]) == (
        "error",
        "reply_too_large",
        "c.6",
        1,
    )
    assert "1048576-byte limit" in reply["message"]
    with pytest.raises(ValueError, match="message_too_large"):
        layer.push("lab-1", {"type": "output", "text": "x" * 1_100_000})
    with pytest.raises(ValueError, match="seq"):
        layer.push("lab-1", {"type": "output", "seq": 4})
    assert layer.stream.read("lab-1", 0, 1000).head == 1


def test_the_limit_is_a_setting_within_what_the_stream_keeps() -> None:
    stream = MemoryStream(StreamSettings(max_messages=5))
    with pytest.raises(ValueError, match="every chunk"):
        SessionLayer(stream, MemoryRequestLedger(), max_message_bytes=1024 * 1024)
    with pytest.raises(ValueError, match="at least"):
        SessionLayer(MemoryStream(), MemoryRequestLedger(), max_message_bytes=1000)


class BrokenStream(MemoryStream):
    def append(self, session_id: str, bodies: Sequence[str]) -> list[str]:
        raise SessionStoreError("redis: ConnectionError")

    def read(self, session_id: str, after: int, budget: int) -> Any:
        raise SessionStoreError("redis: ConnectionError")


def test_a_store_out_of_reach_answers_503_and_the_request_can_run_again() -> None:
    ledger = MemoryRequestLedger()
    layer = SessionLayer(BrokenStream(), ledger)
    app = App()
    for message in ({"type": "command", "id": "c.7"}, {"type": "resume", "id": "r", "lastSeq": 0}):
        answer = layer.handle(call(message), app)
        assert (answer.status, json.loads(answer.body)) == (
            503,
            {"error": "session_store_unavailable"},
        )
    assert len(ledger) == 0  # c.7 was forgotten: a resend runs it


def test_an_async_app_runs_through_handle_async(layer: SessionLayer) -> None:
    async def app(call: BridgeCall, message: Mapping[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"type": "whoami", "user": call.user_id}

    answer = asyncio.run(layer.handle_async(call({"type": "whoami", "id": "c.8"}), app))
    assert frame_of(answer) == {"seq": 1, "type": "whoami", "user": "alice", "id": "c.8"}
    again = asyncio.run(layer.handle_async(call({"type": "whoami", "id": "c.8"}), app))
    assert again.body == answer.body
    with pytest.raises(TypeError, match="handle_async"):
        layer.handle(call({"type": "whoami", "id": "c.9"}), app)
    assert frame_of(layer.handle(call({"type": "whoami", "id": "c.9"}), App()))["seq"] == 2
