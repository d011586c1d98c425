"""Replay stores: in memory, each nonce kept until its own timestamp + window and no count
that fills up; in Redis, shared, so two verifiers accept a given request once in all.

The Redis tests need a redis-server (or valkey-server): without one they fail, saying how
to install it (wslocal.redis_service)."""

from __future__ import annotations

import pytest
import redis
from session_support import NOW, Clock

from ws_bridge_backend.replay import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStoreUnavailableError,
)
from ws_bridge_backend.signing import sign_request
from ws_bridge_backend.verifier import RequestVerifier, SignatureError
from wslocal.redis_service import redis_url
from wslocal.stack import free_port

KEY = b"replay-test-key-" * 3


def test_a_nonce_is_kept_until_its_timestamp_plus_the_window() -> None:
    store = MemoryReplayStore()
    nonce = "ab" * 16
    assert store.add(nonce, NOW, NOW + 300, now=NOW)
    assert not store.add(nonce, NOW, NOW + 300, now=NOW + 300)  # still inside the window
    # Once its timestamp has left the window the request is stale anyway: forgotten.
    assert store.add("cd" * 16, NOW + 302, NOW + 602, now=NOW + 302)
    assert len(store) == 1
    assert store.add(nonce, NOW, NOW + 300, now=NOW + 302)


def test_the_verifier_refuses_a_replay_until_the_request_is_stale() -> None:
    clock = Clock()
    verifier = RequestVerifier([KEY], clock=clock)
    # Signed 299 s in the future (a skewed clock): valid until NOW + 599, and remembered so.
    headers = sign_request(KEY, "POST", "/m", b"{}", now=NOW + 299)
    verifier.verify("POST", "/m", headers, b"{}")
    for at in (NOW + 10, NOW + 400, NOW + 599):
        clock.now = at
        with pytest.raises(SignatureError, match="replayed"):
            verifier.verify("POST", "/m", headers, b"{}")
    clock.now = NOW + 600
    with pytest.raises(SignatureError, match="stale"):
        verifier.verify("POST", "/m", headers, b"{}")


def test_memory_follows_the_rate_and_never_fills_up() -> None:
    """100 signed requests a second for 20 simulated minutes: the store holds about one
    window of them, never refuses one, and a forged request adds nothing."""
    clock = Clock()
    store = MemoryReplayStore()
    verifier = RequestVerifier([KEY], replay=store, clock=clock)
    sizes = []
    for second in range(1200):
        clock.now = NOW + second
        for n in range(100):
            nonce = f"{second:016x}{n:016x}"
            verifier.verify(
                "GET", "/v", sign_request(KEY, "GET", "/v", now=clock.now, nonce=nonce), b""
            )
        sizes.append(len(store))
    assert max(sizes[400:]) <= 100 * 302  # one window (and the purge's second) of requests
    assert min(sizes[400:]) >= 100 * 300
    forged = sign_request(b"forger-key-" * 4, "GET", "/v", now=clock.now)
    with pytest.raises(SignatureError, match="bad_signature"):
        verifier.verify("GET", "/v", forged, b"")
    assert len(store) == sizes[-1]


# ---------------------------------------------------------------------------- Redis


def test_two_verifiers_sharing_redis_accept_a_request_once_in_all(
    redis_server: str, redis_client: redis.Redis
) -> None:
    clock = Clock()
    first = RequestVerifier([KEY], replay=RedisReplayStore.from_url(redis_server), clock=clock)
    second = RequestVerifier([KEY], replay=RedisReplayStore.from_url(redis_server), clock=clock)
    accepted = 0
    refused = 0
    reasons: set[str] = set()
    for n in range(50):
        headers = sign_request(KEY, "POST", "/m", b"{}", now=NOW, nonce=f"{n:032x}")
        for verifier in (first, second, first, second):  # the same request, to both instances
            try:
                verifier.verify("POST", "/m", headers, b"{}")
                accepted += 1
            except SignatureError as exc:
                reasons.add(exc.reason)
                refused += 1
    assert (accepted, refused, reasons) == (50, 150, {"replayed"})
    ttl = redis_client.ttl(f"ws-bridge:nonce:{0:032x}")
    assert 290 <= ttl <= 300  # kept until the timestamp leaves the window, no longer


def test_the_redis_key_expires_with_the_request_s_timestamp(
    redis_server: str, redis_client: redis.Redis
) -> None:
    store = RedisReplayStore.from_url(redis_server)
    assert store.add("ef" * 16, NOW - 290, NOW + 10, now=NOW)
    assert 9 <= redis_client.ttl("ws-bridge:nonce:" + "ef" * 16) <= 10


def test_redis_out_of_reach_is_a_fault_never_an_acceptance() -> None:
    store = RedisReplayStore.from_url(redis_url(free_port()))
    verifier = RequestVerifier([KEY], replay=store)
    with pytest.raises(ReplayStoreUnavailableError):
        verifier.verify("GET", "/v", sign_request(KEY, "GET", "/v"), b"")
