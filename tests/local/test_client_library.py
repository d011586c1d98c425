"""The client library (one connection, backoff, the reconnecting session, explaining a refusal)
against a tiny local websockets server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from local_support import WsBehaviour, WsServer

from wslocal import client
from wslocal.client import (
    Backoff,
    GaveUp,
    HandshakeRejected,
    ReconnectingSession,
    SessionResult,
    WsClient,
    explain_rejection,
    with_query,
)
from wslocal.devtoken import mint_token
from wslocal.stack import free_port

StartServer = Callable[[WsBehaviour], WsServer]
FAST = Backoff(base_seconds=0.01, max_seconds=0.04, max_attempts=3)


class RecordingSleep:
    """Stands in for asyncio.sleep in the backoff: records the delays, waits no time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


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


# -- reconnecting session ----------------------------------------------------------------------


def session_for(
    server: WsServer, received: list[str | bytes], **options: object
) -> tuple[ReconnectingSession, RecordingSleep]:
    sleep = RecordingSleep()
    settings: dict[str, object] = {"keepalive_seconds": None, "reply_wait": 2.0, **options}
    session = ReconnectingSession(
        factory=lambda: WsClient(server.url, "tok", open_timeout=5),
        on_message=received.append,
        backoff=FAST,
        sleep=sleep,
        rng=random.Random(1),
        **settings,  # type: ignore[arg-type]
    )
    return session, sleep


def test_reconnects_with_backoff_after_dropped_connections(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour(drop_first=2))
    received: list[str | bytes] = []
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def on_event(text: str) -> None:
        if text == "reconnected" and session.opened == 3:
            queue.put_nowait("hello")
            queue.put_nowait(None)

    session, sleep = session_for(server, received, on_event=on_event)
    result = asyncio.run(session.run(queue))

    assert result == SessionResult("done", 1000, "")
    assert session.opened == 3
    assert server.behaviour.handshakes == 3
    assert sleep.delays == session.delays
    assert len(sleep.delays) == 2
    assert 0.005 <= sleep.delays[0] <= 0.01
    assert 0.01 <= sleep.delays[1] <= 0.02
    assert received == ['{"type": "echo", "text": "hello"}']
    assert server.behaviour.received == [(3, "hello")]


def test_a_message_queued_while_dropped_is_sent_once_after_reconnecting(
    ws_server: StartServer,
) -> None:
    server = ws_server(WsBehaviour(drop_first=1, drop_after=0.2))
    received: list[str | bytes] = []
    clients: list[WsClient] = []

    def factory() -> WsClient:
        clients.append(WsClient(server.url, "tok", open_timeout=5))
        return clients[-1]

    async def scenario() -> SessionResult:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        session, _ = session_for(server, received)
        session.factory = factory
        task = asyncio.create_task(session.run(queue))
        async with asyncio.timeout(5):
            while not clients or clients[0].close_code is None:
                await asyncio.sleep(0.01)
        queue.put_nowait("after-drop")
        queue.put_nowait(None)
        return await task

    assert asyncio.run(scenario()).outcome == "done"
    assert clients[0].close_code == 1006
    assert server.behaviour.received == [(2, "after-drop")]
    assert received == ['{"type": "echo", "text": "after-drop"}']


def test_gives_up_after_the_bounded_attempts(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour(reject_status=503))
    session, sleep = session_for(server, [])
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    with pytest.raises(GaveUp) as caught:
        asyncio.run(session.run(queue))
    assert caught.value.attempts == FAST.max_attempts
    assert isinstance(caught.value.last_error, HandshakeRejected)
    assert server.behaviour.handshakes == FAST.max_attempts + 1
    assert len(sleep.delays) == FAST.max_attempts


def test_a_server_that_accepts_then_drops_still_ends_in_giving_up(
    ws_server: StartServer,
) -> None:
    server = ws_server(WsBehaviour(close_code=1011))
    session, sleep = session_for(server, [])
    with pytest.raises(GaveUp):
        asyncio.run(session.run(asyncio.Queue()))
    assert server.behaviour.handshakes == FAST.max_attempts + 1
    assert len(sleep.delays) == FAST.max_attempts


@pytest.mark.parametrize("status", [400, 401, 403])
def test_never_reconnects_after_a_4xx_handshake(ws_server: StartServer, status: int) -> None:
    server = ws_server(WsBehaviour(reject_status=status))
    session, sleep = session_for(server, [])
    with pytest.raises(HandshakeRejected) as caught:
        asyncio.run(session.run(asyncio.Queue()))
    assert caught.value.status == status
    assert server.behaviour.handshakes == 1
    assert sleep.delays == []


@pytest.mark.parametrize("code", [1000, 1008])
def test_a_deliberate_server_close_is_not_retried(ws_server: StartServer, code: int) -> None:
    server = ws_server(WsBehaviour(close_code=code))
    session, sleep = session_for(server, [])
    result = asyncio.run(session.run(asyncio.Queue()))
    assert (result.outcome, result.close_code) == ("closed", code)
    assert server.behaviour.handshakes == 1
    assert sleep.delays == []


def test_a_token_expired_close_reconnects_with_a_fresh_token(ws_server: StartServer) -> None:
    """The handler answers a message sent after the token's exp with token_expired, then
    closes with 1000: unlike a deliberate close, the session reconnects, asking the factory
    (which mints) for a new token, and sends the refused message again."""
    server = ws_server(WsBehaviour(expire_first=1))
    tokens = iter(["tok-old", "tok-new"])
    received: list[str | bytes] = []
    events: list[str] = []
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    queue.put_nowait("hello")
    queue.put_nowait(None)
    session = ReconnectingSession(
        factory=lambda: WsClient(server.url, next(tokens), open_timeout=5),
        on_message=received.append,
        on_event=events.append,
        backoff=FAST,
        sleep=RecordingSleep(),
        rng=random.Random(1),
        keepalive_seconds=None,
        reply_wait=2.0,
    )
    result = asyncio.run(session.run(queue))
    assert result.outcome == "done"
    assert server.behaviour.handshakes == 2
    assert [path.rsplit("token=", 1)[1] for path in server.behaviour.paths] == [
        "tok-old",
        "tok-new",
    ]
    assert "the token expired: reconnecting to send the message again" in events
    assert server.behaviour.received == [(1, "hello"), (2, "hello")]
    assert received == [
        '{"type": "error", "error": "token_expired"}',
        '{"type": "echo", "text": "hello"}',
    ]


def test_keepalive_pings_are_sent_and_their_pongs_not_reported(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())
    received: list[str | bytes] = []
    session, _ = session_for(server, received, keepalive_seconds=0.05, listen=0.4)

    async def scenario() -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        queue.put_nowait("hello")
        queue.put_nowait(None)
        await session.run(queue)

    asyncio.run(scenario())
    pings = [text for _, text in server.behaviour.received if text == client.KEEPALIVE_MESSAGE]
    assert len(pings) >= 3
    assert session.keepalives_sent == len(pings)
    assert received == ['{"type": "echo", "text": "hello"}']


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


def test_a_refused_port_after_a_connection_was_open_is_retried() -> None:
    """A server that restarts: retrying helps, so refusals after a connection are retried."""
    session = ReconnectingSession(
        factory=lambda: WsClient(f"ws://127.0.0.1:{free_port()}/x", "t"),
        on_message=lambda _m: None,
        backoff=Backoff(0.01, 0.01, 2),
        sleep=RecordingSleep(),
    )
    session.opened = 1
    with pytest.raises(GaveUp) as caught:
        asyncio.run(session.run(asyncio.Queue()))
    assert caught.value.attempts == 2
