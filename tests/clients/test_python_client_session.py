"""The Python client's session against the stand-in stack: history and replies in order,
a gap filled by a resume, resync, messages over 128 KB both ways, the bounded queue, the
heartbeat, a kick that sticks, rotate, and a first handshake refused for good."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from session_helpers import make_token, run, session, until

from session_standin import StandInServer
from ws_bridge_client import ClientError


def token(_reason: str) -> str:
    return make_token()


def test_a_new_client_gets_the_history_then_its_reply(standin: StandInServer) -> None:
    for line in (1, 2):
        standin.push("s", {"type": "output", "line": line})

    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            assert rec.client is not None
            reply = await rec.client.send({"type": "command", "command": "ls"})
            assert (reply["output"], reply["seq"]) == ("ls", 3)
            assert rec.seqs == [1, 2, 3]
            assert rec.messages[2][1] == reply  # own replies are stream messages too
            assert rec.client.resume_state == "resumed"
            assert reply["id"].startswith(rec.client.client_id + ".")

    run(scenario())


def test_a_gap_is_held_then_filled_by_a_resume(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token, gap_timeout=0.2) as rec:
            standin.push("s", {"type": "output", "line": 1}, send=False)  # lost on its way
            standin.push("s", {"type": "output", "line": 2})
            await asyncio.sleep(0.1)
            assert rec.seqs == []  # 2 is held behind the gap
            await until(lambda: rec.seqs == [1, 2], 5, "the gap filled")
            resumes = [text for _, text in standin.frames if '"resume"' in text]
            assert len(resumes) == 2
            assert '"lastSeq":0' in resumes[1]

    run(scenario())


def test_resync_required_when_the_gap_left_the_buffer(standin: StandInServer) -> None:
    standin.backend.buffer_size = 5

    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            assert rec.client is not None
            standin.push("s", {"type": "output", "line": 1})
            await until(lambda: rec.seqs == [1], 5, "line 1")
            standin.faults.reject_status = 503  # hold reconnects off while the stream moves on
            standin.drop()
            for line in range(2, 22):
                standin.push("s", {"type": "output", "line": line})
            standin.faults.reject_status = None
            await until(lambda: rec.of("resync"), 10, "resync")
            assert rec.of("resync") == [{"head_seq": 21, "last_seq": 21}]
            assert rec.client.resume_state == "resync_required"
            standin.push("s", {"type": "output", "line": 22})
            await until(lambda: rec.seqs == [1, 22], 5, "line 22 after the resync")

    run(scenario())


def test_messages_over_128_kb(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            assert rec.client is not None
            reply = await rec.client.send({"type": "big", "size": 300_000})
            assert reply["text"] == "x" * 300_000
            assert rec.seqs == [4]  # four chunks, one message, at the last one's seq
            sent = len(standin.frames)
            with pytest.raises(ClientError) as caught:
                await rec.client.send({"type": "command", "command": "y" * 131_072})
            assert caught.value.code == "message_too_large"
            assert len(standin.frames) == sent  # nothing was sent
            # Under the limit but over one 32 KB frame: sent in fragments, answered.
            reply = await rec.client.send({"type": "command", "command": "z" * 100_000})
            assert len(reply["output"]) == 100_000

    run(scenario())


def test_the_queue_is_bounded(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token, max_queue=3) as rec:
            client = rec.client
            assert client is not None
            slow = [
                asyncio.create_task(
                    client.send({"type": "command", "command": "s", "delay": 0.3, "id": f"q.{n}"})
                )
                for n in range(3)
            ]
            await asyncio.sleep(0)
            with pytest.raises(ClientError) as caught:
                await client.send({"type": "command", "command": "one too many", "id": "q.9"})
            assert caught.value.code == "queue_full"
            assert [reply["id"] for reply in await asyncio.gather(*slow)] == ["q.0", "q.1", "q.2"]
            assert standin.received("q.9") == 0
            assert (await client.send({"type": "command", "command": "room"}))["output"] == "room"

    run(scenario())


def test_the_heartbeat_finds_a_peer_that_stopped_answering(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token, keepalive=0.2, reply_timeout=0.3) as rec:
            standin.faults.silent = True
            await until(lambda: rec.of("close"), 5, "the dead connection closed")
            assert rec.of("error")[0]["code"] == "connection_lost"
            standin.faults.silent = False
            await until(lambda: len(standin.handshakes) >= 2, 5, "a new connection")
            await until(lambda: rec.client and rec.client.resume_state == "resumed", 5, "resumed")

    run(scenario())


def test_a_kick_sticks(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            client = rec.client
            assert client is not None
            waiting = asyncio.create_task(client.send({"type": "command", "delay": 1, "id": "k.1"}))
            await until(lambda: standin.received("k.1") == 1, 5, "the request at the backend")
            standin.send_raw({"type": "kicked", "reason": "removed from the session"})
            with pytest.raises(ClientError) as caught:
                await waiting
            assert (caught.value.code, str(caught.value)) == ("kicked", "removed from the session")
            assert (client.state, client.close_reason) == ("closed", "kicked")
            await asyncio.sleep(0.5)
            assert len(standin.handshakes) == 1

    run(scenario())


def test_rotate_moves_to_a_new_connection_without_a_gap(standin: StandInServer) -> None:
    async def scenario() -> None:
        async with session(standin.url, token) as rec:
            pusher = asyncio.create_task(push_lines(standin, 100))
            await asyncio.sleep(0.1)
            standin.send_raw({"type": "rotate"})
            await pusher
            await until(lambda: len(rec.seqs) == 100, 5, "every line")
            assert rec.seqs == list(range(1, 101))
            assert [r["phase"] for r in rec.of("rollover")] == ["start", "done"]
            assert len(standin.handshakes) == 2
            assert rec.of("close") == []  # the client closed the old one itself

    run(scenario())


async def push_lines(standin: StandInServer, count: int) -> None:
    for line in range(1, count + 1):
        await asyncio.to_thread(standin.push, "s", {"type": "output", "line": line})
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("status", [401, 403])
def test_a_first_handshake_refused_is_final(standin: StandInServer, status: int) -> None:
    standin.faults.reject_status = status

    async def scenario() -> Any:
        async with session(standin.url, token, connect=False) as rec:
            assert rec.client is not None
            with pytest.raises(ClientError) as caught:
                await rec.client.connect()
            await asyncio.sleep(0.3)
            return caught.value

    error = run(scenario())
    assert error.code == "refused"
    assert len(standin.handshakes) == 1
