"""Sessions that survive, through the whole local stack (emulator, deployed handler, the
reference backend on the SDK's session layer with a real Redis, the gateway cutting
connections on demand) with the Python client: a request resent after a drop runs once, a
pushed token_expired makes nothing run twice, a kick sticks, a message over 128 KB arrives
whole, a rotation moves the client without a gap. The 100-drop loop and rollovers at a
short maximum duration are test_session_drops.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import boto3
import pytest

from session_standin.local_stack import SessionStack, client, session_stack
from ws_bridge_client import ClientError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def stack() -> Iterator[SessionStack]:
    with session_stack("ws-sessions") as handle:
        yield handle


async def eventually(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


def test_a_request_resent_after_a_drop_runs_once(stack: SessionStack) -> None:
    session = stack.new_session()

    async def scenario() -> dict[str, object]:
        alice, seen = client(stack, session)
        await alice.connect()
        # The command runs 2 s; its connection is cut after 0.5 s. The client resumes on a
        # new connection and resends it: the backend answers pending (it still runs), then
        # the reply comes through the stream.
        running = asyncio.create_task(
            alice.send({"type": "command", "command": "make", "delay": 2})
        )
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(stack.drop, session)
        reply = await asyncio.wait_for(running, 20)
        await alice.close()
        assert seen.kinds("resume")  # it did resume on another connection
        return reply

    reply = asyncio.run(scenario())
    assert (reply["type"], reply["command"]) == ("command_result", "make")
    messages = stack.backend("GET", "/api/admin/messages")["messages"]
    sent = [m for m in messages if m["sessionId"] == session and m["type"] == "command"]
    assert len(sent) == 2  # first sent, then resent after the drop...
    assert stack.runs(str(reply["id"])) == 1  # ...and run once


def test_a_pushed_token_expired_makes_no_request_run_twice(stack: SessionStack) -> None:
    session = stack.new_session()
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.connections_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    async def scenario() -> tuple[dict[str, object], list[str]]:
        alice, seen = client(stack, session)
        await alice.connect()
        running = asyncio.create_task(
            alice.send({"type": "command", "command": "rm -rf build", "delay": 1.5})
        )
        await asyncio.sleep(0.3)
        (connection,) = await asyncio.to_thread(stack.connections, session)
        # The handler's shape, pushed: without an id, with someone else's, numbered.
        for frame in (
            b'{"type":"error","error":"token_expired"}',
            b'{"type":"error","error":"token_expired","id":"someone.1"}',
        ):
            management.post_to_connection(ConnectionId=connection, Data=frame)
        stack.backend(
            "POST", f"/api/push/session/{session}", {"type": "error", "error": "token_expired"}
        )
        reply = await asyncio.wait_for(running, 20)
        await alice.close()
        return reply, [str(message.get("type")) for _, message in seen.messages]

    reply, delivered = asyncio.run(scenario())
    assert reply["type"] == "command_result"
    assert stack.runs(str(reply["id"])) == 1
    assert stack.validations(session) == 1  # never reconnected: nothing was resent
    assert delivered == ["error", "command_result"]  # the numbered push, delivered as such


def test_a_kick_sticks(stack: SessionStack) -> None:
    session = stack.new_session("alice", "bob")

    async def scenario() -> None:
        bob, seen = client(stack, session, "bob")
        await bob.connect()
        waiting = asyncio.create_task(bob.send({"type": "command", "command": "x", "delay": 3}))
        await asyncio.sleep(0.3)
        kicked = stack.backend(
            "POST",
            "/api/admin/kick",
            {"sessionId": session, "userId": "bob", "reason": "removed from the lab"},
        )
        assert kicked == {"kicked": 1, "removed": True}
        await eventually(lambda: bob.state == "closed", 10, "the client closes")
        assert bob.close_reason == "kicked"
        with pytest.raises(ClientError) as failed:
            await waiting
        assert failed.value.code == "kicked"
        await asyncio.sleep(3)  # a client that reconnects does it within its backoff
        assert seen.kinds("state")[-1]["state"] == "closed"
        # And a client that tries anyway is refused: bob left the session.
        again, _ = client(stack, session, "bob")
        with pytest.raises(ClientError) as refused:
            await again.connect()
        assert refused.value.code == "refused"

    asyncio.run(scenario())
    assert stack.validations(session) == 2  # bob's first connect and the refused one


def test_a_message_over_128_kb_arrives_whole(stack: SessionStack) -> None:
    session = stack.new_session()

    async def scenario() -> None:
        alice, seen = client(stack, session)
        await alice.connect()
        reply = await alice.send({"type": "cat", "bytes": 300_000})
        assert (reply["type"], len(reply["text"])) == ("cat_result", 300_000)
        text = "é" * 100_000  # 200 KB of UTF-8, cut between the two bytes of a character
        pushed = stack.backend(
            "POST", f"/api/push/session/{session}", {"type": "note", "text": text}
        )
        await eventually(lambda: len(seen.messages) == 2, 10, "the pushed message")
        seq, message = seen.messages[-1]
        assert (seq, message) == (pushed["seq"], {"type": "note", "text": text})
        await alice.close()

    asyncio.run(scenario())


def test_a_rotation_moves_the_client_without_a_gap(stack: SessionStack) -> None:
    session = stack.new_session()

    async def scenario() -> None:
        alice, seen = client(stack, session)
        await alice.connect()
        stack.backend(
            "POST", f"/api/admin/sessions/{session}/stream", {"lines": 60, "interval": 0.02}
        )
        await asyncio.sleep(0.4)
        assert stack.backend("POST", "/api/admin/rotate", {"sessionId": session}) == {"rotated": 1}
        await eventually(lambda: len(seen.messages) == 60, 20, "every line")
        assert [e["phase"] for e in seen.kinds("rollover")] == ["start", "done"]
        assert [m["line"] for _, m in seen.messages] == list(range(1, 61))
        assert [seq for seq, _ in seen.messages] == list(range(1, 61))
        assert seen.kinds("close") == []  # the old connection closed by the client itself
        await alice.close()

    asyncio.run(scenario())
