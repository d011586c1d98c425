"""The Python client after ``token_expired``, against the stand-in (which, as the handler,
refuses a request at or after the token's exp and closes, and as the authorizer accepts a
token until exp + 30 s): it backs off, wants a token later than the refused one, and makes at
most ``max_attempts`` tries; a pushed ``token_expired`` is no reason to resend anything."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import pytest
from session_helpers import make_token, run, session, until

from session_standin import StandInServer
from session_standin.fixtures import PUSHED_TOKEN_EXPIRED, push_like_a_backend
from ws_bridge_client import Backoff, ClientError

BACKOFF = Backoff(0.5, 2.0, 3)
DRAWS = [0.0, 0.1, 0.2, 0.3]
TOLERANCE = 0.2  # each delay is at least 0.25 s from what it would be without jitter


class Draws(random.Random):
    """The jitter's draws, fixed: DRAWS in turn."""

    def __init__(self) -> None:
        super().__init__()
        self.draws = iter(DRAWS)

    def random(self) -> float:
        return next(self.draws)


def expected_delays(count: int) -> list[float]:
    """Uniform in [c/2, c], c = min(max, base * 2^(n-1)) (docs/design.md), with the draws
    fixed: 0.25, 0.55, 1.2 s (without jitter: 0.5, 1, 2 s), written out here."""
    delays = []
    for attempt, draw in zip(range(1, count + 1), DRAWS, strict=False):
        ceiling = min(BACKOFF.max_seconds, BACKOFF.base_seconds * 2 ** (attempt - 1))
        delays.append(ceiling / 2 + draw * ceiling / 2)
    return delays


def test_the_same_expired_token_again_makes_no_handshake_and_stops_after_max_attempts(
    standin: StandInServer,
) -> None:
    expired = make_token(ttl=-5)  # past exp, within the authorizer's leeway: it connects
    asked: list[tuple[float, str]] = []

    def get_token(reason: str) -> str:
        asked.append((time.monotonic(), reason))
        return expired

    async def scenario() -> ClientError:
        async with session(
            standin.url, get_token, backoff=BACKOFF, connect=False, rng=Draws()
        ) as rec:
            client = rec.client
            assert client is not None
            connecting = asyncio.create_task(client.connect())
            await asyncio.sleep(0)
            request = asyncio.create_task(client.send({"type": "command", "id": "x.1"}))
            with pytest.raises(ClientError):
                await connecting
            assert client.close_reason == "token_expired"
            with pytest.raises(ClientError) as caught:
                await request
            return caught.value

    error = run(scenario())
    assert error.code == "token_expired"
    assert "no fresh token after 3 attempts" in str(error)
    assert len(standin.handshakes) == 1  # the same token is never presented again
    assert [reason for _, reason in asked] == ["connect"] + ["token_expired"] * 3
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(asked[1:])]
    for gap, delay in zip(gaps, expected_delays(3)[1:], strict=True):
        assert delay - 0.02 <= gap <= delay + TOLERANCE, (gaps, expected_delays(3))
    assert standin.received("x.1") == 0  # refused by the handler, never forwarded


def test_new_tokens_refused_too_make_at_most_max_attempts_handshakes_spaced_by_backoff(
    standin: StandInServer,
) -> None:
    base = int(time.time()) - 10
    exps = itertools.count(base)

    def get_token(_reason: str) -> str:
        return make_token(ttl=next(exps) - time.time())  # each later, each already past exp

    async def scenario() -> None:
        async with session(
            standin.url, get_token, backoff=BACKOFF, connect=False, rng=Draws()
        ) as rec:
            with pytest.raises(ClientError) as caught:
                await rec.client.connect()  # type: ignore[union-attr]
            assert caught.value.code == "token_expired"
            assert rec.client.close_reason == "token_expired"  # type: ignore[union-attr]

    run(scenario())
    opened = [h.at for h in standin.handshakes]
    assert len(opened) == 1 + BACKOFF.max_attempts
    for gap, delay in zip(
        [b - a for a, b in itertools.pairwise(opened)], expected_delays(3), strict=True
    ):
        assert delay - 0.02 <= gap <= delay + TOLERANCE
    resumes = [text for _, text in standin.frames if '"resume"' in text]
    assert len(resumes) == 1 + BACKOFF.max_attempts  # each refused with token_expired


def test_after_token_expired_a_fresh_token_reconnects_and_the_request_runs_once(
    standin: StandInServer,
) -> None:
    tokens = iter([make_token(ttl=-5), make_token(ttl=600)])
    reasons: list[str] = []

    def get_token(reason: str) -> str:
        reasons.append(reason)
        return next(tokens)

    async def scenario() -> dict[str, object]:
        async with session(standin.url, get_token) as rec:
            reply = await rec.client.send({"type": "command", "command": "date", "id": "d.1"})  # type: ignore[union-attr]
            assert [e["code"] for e in rec.of("error")] == ["token_expired"]
            return dict(reply)

    reply = run(scenario())
    assert reply["output"] == "date"
    assert reasons == ["connect", "token_expired"]
    assert (standin.received("d.1"), standin.executed("d.1")) == (1, 1)


@pytest.mark.parametrize("pushed", PUSHED_TOKEN_EXPIRED)
def test_a_pushed_token_expired_makes_no_request_run_twice(
    standin: StandInServer, pushed: dict[str, object]
) -> None:
    async def scenario() -> None:
        async with session(standin.url, lambda _r: make_token()) as rec:
            client = rec.client
            assert client is not None
            slow = asyncio.create_task(
                client.send({"type": "command", "command": "slow", "delay": 0.6, "id": "p.1"})
            )
            await until(lambda: standin.received("p.1") == 1, 5, "the request at the backend")
            push_like_a_backend(standin, pushed)
            reply = await slow
            assert reply["output"] == "slow"
            await asyncio.sleep(0.3)
            assert client.state == "open"
            assert rec.of("close") == []

    run(scenario())
    assert (standin.received("p.1"), standin.executed("p.1")) == (1, 1)
    assert len(standin.handshakes) == 1
