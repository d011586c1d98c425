"""The raw connection (``WsClient``), the backoff and explaining a refusal, against a tiny
local websockets server. The session client's own tests are in tests/clients."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from local_support import WsBehaviour, WsServer

from ws_bridge_client.connection import fragments
from wslocal.client import Backoff, HandshakeRejected, WsClient, explain_rejection, with_query
from wslocal.devtoken import mint_token

StartServer = Callable[[WsBehaviour], WsServer]


def query_of(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


# -- one connection ----------------------------------------------------------------------------


def test_query_auth_adds_the_token_and_keeps_the_query(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())

    async def scenario() -> None:
        async with WsClient(
            server.url + "?keep=1", "tok.en.sig", query={"sessionId": "lab 1"}
        ) as ws:
            await ws.send_json({"type": "ping"})
            assert await ws.receive_json() == {"type": "pong"}

    asyncio.run(scenario())
    assert query_of(server.behaviour.paths[0]) == {
        "keep": ["1"],
        "sessionId": ["lab 1"],
        "token": ["tok.en.sig"],
    }
    assert server.behaviour.authorization == [None]


def test_header_auth_sends_a_bearer_header(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())

    async def scenario() -> None:
        async with WsClient(server.url, "tok.en.sig", auth="header") as ws:
            await ws.send_text("hello")
            assert await ws.receive_json() == {"type": "echo", "text": "hello"}

    asyncio.run(scenario())
    assert server.behaviour.authorization == ["Bearer tok.en.sig"]
    assert "token" not in query_of(server.behaviour.paths[0])


def test_subprotocol_auth_offers_bearer_and_the_token(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())

    async def scenario() -> str | None:
        async with WsClient(server.url, "tok.en.sig", auth="subprotocol") as ws:
            return ws.subprotocol

    assert asyncio.run(scenario()) == "bearer"
    assert server.behaviour.protocols == ["bearer, tok.en.sig"]
    assert server.behaviour.authorization == [None]


def test_receive_times_out_and_binary_frames_pass(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())

    async def scenario() -> None:
        async with WsClient(server.url, "t") as ws:
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.1)
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_json() == {"type": "echo", "text": "\x00\x01"}
        assert ws.close_code == 1000

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [401, 403, 400, 502])
def test_a_refused_upgrade_exposes_its_status(ws_server: StartServer, status: int) -> None:
    server = ws_server(WsBehaviour(reject_status=status))

    async def scenario() -> None:
        await WsClient(server.url, "t").connect()

    with pytest.raises(HandshakeRejected) as caught:
        asyncio.run(scenario())
    assert caught.value.status == status
    assert caught.value.body == b"rejected\n"


def test_unknown_auth_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auth"):
        WsClient("ws://127.0.0.1:1/x", "t", auth="cookie")  # type: ignore[arg-type]


def test_with_query_replaces_existing_keys() -> None:
    assert with_query("ws://h/s?token=a&x=1", {"token": "b"}) == "ws://h/s?x=1&token=b"
    assert with_query("ws://h/s", {}) == "ws://h/s"


def test_a_message_over_32_kb_goes_in_fragments_of_at_most_32_kb(ws_server: StartServer) -> None:
    """API Gateway closes a connection that sends a frame over 32 KB (1009)."""
    text = "é" * 40_000 + "x" * 5  # 80,005 bytes; no fragment may split an é
    pieces = list(fragments(text))
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= 32 * 1024 for piece in pieces)
    assert len(pieces) == 3
    server = ws_server(WsBehaviour())

    async def scenario() -> None:
        async with WsClient(server.url, "t") as ws:
            await ws.send_text(text)
            assert (await ws.receive_json())["text"] == text

    asyncio.run(scenario())


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_grows_exponentially_within_jitter_bounds() -> None:
    backoff = Backoff(base_seconds=1.0, max_seconds=8.0, max_attempts=6)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (6, 8.0)]:
        samples = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples), attempt
        assert max(samples) - min(samples) > ceiling / 4  # the jitter spreads the retries


@pytest.mark.parametrize(
    "arguments",
    [{"base_seconds": 0}, {"base_seconds": 2, "max_seconds": 1}, {"max_attempts": -1}],
)
def test_backoff_refuses_nonsense(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="_"):
        Backoff(**arguments)  # type: ignore[arg-type]


# -- saying why ---------------------------------------------------------------------------------

SECRET = "a-development-secret-of-at-least-32-bytes"


def test_a_refused_handshake_is_explained_from_the_clients_own_token() -> None:
    now = 2_000_000_000
    expired = mint_token(SECRET, sub="alice", now=now - 3600 - 90, ttl_seconds=3600)
    assert explain_rejection(401, expired, now=now) == (
        "HTTP 401: the token expired at 2033-05-18 03:31:50 UTC (90 s ago); mint a new one"
    )
    valid = mint_token(SECRET, sub="alice", now=now, ttl_seconds=60)
    assert explain_rejection(401, valid, now=now).startswith(
        "HTTP 401: the token was refused although it has not expired (it expires at "
        "2033-05-18 03:34:20 UTC): a wrong key"
    )
    assert explain_rejection(401, "garbage", now=now) == "HTTP 401: the token is not a JWT"
    assert explain_rejection(401, None, now=now) == "HTTP 401: no token was sent"
    assert explain_rejection(403, valid, now=now).startswith("HTTP 403: the token is valid but")
