"""Backend calls against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_fakes import FakeServer, Reply, free_port
from trickle_server import BODY, Phase, TrickleServer, self_signed_certificate

from ws_bridge import backend_client
from ws_bridge.backend_client import BackendResult, Outcome
from ws_bridge.json_codec import encode_json
from ws_bridge.settings import MAX_MESSAGE_BYTES, HandlerSettings


def forward(
    http: Any, settings: HandlerSettings, connection_id: str, message: Any, **kwargs: Any
) -> BackendResult:
    """A message forwarded as the handler forwards one: encoded, then posted."""
    return backend_client.forward_body(
        http, settings, connection_id, encode_json(message), **kwargs
    )


def settings_for(url: str, **overrides: Any) -> HandlerSettings:
    return HandlerSettings(connections_table="t", backend_url=url, **overrides)


def identity(session_id: str) -> dict[str, object]:
    """The validate call's body for ``session_id``."""
    return {
        "connectionId": "c=",
        "sessionId": session_id,
        "userId": "u",
        "sessionSource": "token",
        "tokenExpiresAt": 1_900_000_000,
    }


def test_one_pool_per_container() -> None:
    assert backend_client.pool() is backend_client.pool()


def test_validate_session_sends_the_bearer_token_and_encodes_the_session(
    server: FakeServer,
) -> None:
    server.reply(
        "POST", "/api/labs/session/a%40b%7C1%3A%2B%3D/validate", Reply(200, {"valid": True})
    )
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(server.url), identity("a@b|1:+="), "tok"
    )
    assert result.ok
    assert result.status == 200
    (seen,) = server.seen()
    assert seen.method == "POST"
    assert seen.path == "/api/labs/session/a%40b%7C1%3A%2B%3D/validate"
    assert seen.headers["Authorization"] == "Bearer tok"
    assert seen.headers["X-Connection-Id"] == "c="
    assert seen.json() == identity("a@b|1:+=")


@pytest.mark.parametrize(
    "session_id", ["..", ".", "a/b", "../../admin", "a b", "a?b", "a%2F", "", "x" * 129, ".hidden"]
)
def test_a_session_id_that_could_change_the_path_is_never_sent(
    server: FakeServer, session_id: str
) -> None:
    # "?sessionId=.." once made the validate call GET /api/labs/validate.
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(server.url), identity(session_id), "tok"
    )
    assert result.outcome is Outcome.UNSENDABLE
    assert server.seen() == []


def test_forward_body_posts_json_with_the_connection_header(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/message", Reply(200, {"type": "ok"}))
    message = {"type": "command", "text": "héllo ✓"}
    result = forward(backend_client.pool(), settings_for(server.url), "abc=", message)
    assert result.ok
    assert result.body == b'{"type": "ok"}'
    (seen,) = server.seen()
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Connection-Id"] == "abc="
    assert seen.json() == message


def test_paths_are_configurable(server: FakeServer) -> None:
    settings = settings_for(
        server.url,
        backend_validate_path="/v/{sessionId}/ok",
        backend_message_path="/m",
        backend_disconnect_path="/d",
    )
    backend_client.validate_session(backend_client.pool(), settings, identity("s:1"), "t")
    forward(backend_client.pool(), settings, "c", {})
    backend_client.notify_disconnect(backend_client.pool(), settings, {"connectionId": "c"})
    assert [(r.method, r.path) for r in server.seen()] == [
        ("POST", "/v/s%3A1/ok"),
        ("POST", "/m"),
        ("POST", "/d"),
    ]


def test_slow_backend_times_out_within_the_deadline(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/message", Reply(200, {}, delay=2.0))
    started = time.monotonic()
    result = forward(
        backend_client.pool(), settings_for(server.url, backend_timeout_seconds=0.3), "c", {}
    )
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_disconnect_notice_uses_its_own_short_timeout(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/disconnect", Reply(200, {}, delay=2.0))
    settings = settings_for(server.url, backend_timeout_seconds=20, disconnect_timeout_seconds=0.2)
    started = time.monotonic()
    result = backend_client.notify_disconnect(backend_client.pool(), settings, {})
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_backend_down_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(url), identity("s"), "t"
    )
    assert result.outcome is Outcome.UNREACHABLE
    assert not result.ok


def test_a_dropped_post_is_not_retried(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/message", Reply(drop=True))
    result = forward(backend_client.pool(), settings_for(server.url), "c", {})
    assert result.outcome is Outcome.UNREACHABLE
    assert len(server.seen("POST")) == 1


def test_redirects_are_not_followed(server: FakeServer) -> None:
    server.reply("POST", "/api/labs/session/s/validate", Reply(302, "", headers={"Location": "/x"}))
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(server.url), identity("s"), "t"
    )
    assert (result.outcome, result.status, result.ok) == (Outcome.RESPONDED, 302, False)
    assert len(server.seen()) == 1


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_statuses_are_reported_not_raised(server: FakeServer, status: int) -> None:
    server.reply("POST", "/api/ws/message", Reply(status, {"error": "x"}))
    result = forward(backend_client.pool(), settings_for(server.url), "c", {})
    assert (result.outcome, result.status, result.ok) == (Outcome.RESPONDED, status, False)


def test_oversized_reply_is_cut_off(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/message", Reply(200, b"x" * (MAX_MESSAGE_BYTES + 1)))
    result = forward(backend_client.pool(), settings_for(server.url), "c", {})
    assert result.outcome is Outcome.TOO_LARGE
    assert result.body == b""
    # the pool still works afterwards (the half-read connection was not reused)
    server.reply("POST", "/api/ws/message", Reply(200, {"ok": 1}))
    assert forward(backend_client.pool(), settings_for(server.url), "c", {}).ok


def test_connections_are_reused_between_calls(server: FakeServer) -> None:
    server.reply("POST", "/api/ws/message", Reply(200, {}))
    for _ in range(3):
        assert forward(backend_client.pool(), settings_for(server.url), "c", {}).ok
    pool = backend_client.pool().connection_from_url(server.url)
    assert pool.num_connections == 1


def test_the_deadline_does_not_outlive_a_call(server: FakeServer) -> None:
    # The watchdog of a finished call must not shut the pooled connection down later.
    server.reply("POST", "/api/ws/message", Reply(200, {}))
    settings = settings_for(server.url, backend_timeout_seconds=0.2)
    assert forward(backend_client.pool(), settings, "c", {}).ok
    time.sleep(0.4)
    assert forward(backend_client.pool(), settings, "c", {}).ok
    assert backend_client.pool().connection_from_url(server.url).num_connections == 1


def test_every_call_shares_one_deadline_thread(server: FakeServer) -> None:
    # A thread per call (threading.Timer) was most of the handler's own cost per message.
    server.reply("POST", "/api/ws/message", Reply(200, {}))
    settings = settings_for(server.url)
    assert forward(backend_client.pool(), settings, "c", {}).ok
    before = {thread.ident for thread in threading.enumerate()}
    for _ in range(20):
        assert forward(backend_client.pool(), settings, "c", {}).ok
    assert {thread.ident for thread in threading.enumerate()} <= before
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_concurrent_trickling_calls_each_end_at_their_own_deadline(
    trickle: TrickleServer,
) -> None:
    # One thread keeps every deadline: a later deadline pushed first must not delay an
    # earlier one pushed after it (each byte arrives within any socket timeout).
    settings = settings_for(trickle.url, backend_timeout_seconds=5)
    finished: dict[float, tuple[Outcome, float]] = {}

    def call(seconds: float) -> None:
        started = time.monotonic()
        result = forward(backend_client.pool(), settings, "c", {}, timeout_seconds=seconds)
        finished[seconds] = (result.outcome, time.monotonic() - started)

    threads = [threading.Thread(target=call, args=(s,)) for s in (1.4, 0.3, 0.8)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join(5)
    assert sorted(finished) == [0.3, 0.8, 1.4]
    for seconds, (outcome, took) in finished.items():
        assert outcome is Outcome.TIMEOUT
        assert seconds - 0.05 <= took < seconds + 0.35, (seconds, took)


def test_a_shorter_timeout_given_by_the_caller_wins(server: FakeServer) -> None:
    server.reply("POST", "/api/labs/session/s/validate", Reply(200, {}, delay=1.0))
    settings = settings_for(server.url, backend_timeout_seconds=5)
    started = time.monotonic()
    result = backend_client.validate_session(
        backend_client.pool(), settings, identity("s"), "t", timeout_seconds=0.2
    )
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 0.6
    # and a longer one cannot extend BACKEND_TIMEOUT_SECONDS
    short = settings_for(server.url, backend_timeout_seconds=0.2)
    started = time.monotonic()
    result = backend_client.validate_session(
        backend_client.pool(), short, identity("s"), "t", timeout_seconds=20
    )
    assert result.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 0.6


def test_no_time_left_means_no_call(server: FakeServer) -> None:
    settings = settings_for(server.url)
    for left in (0.0, -3.0):
        result = forward(backend_client.pool(), settings, "c", {}, timeout_seconds=left)
        assert result.outcome is Outcome.TIMEOUT
    assert server.seen() == []


@pytest.fixture(params=["body", "headers"])
def trickle(request: pytest.FixtureRequest) -> Iterator[TrickleServer]:
    phase: Phase = request.param
    server = TrickleServer(phase, interval=0.1).start()
    yield server
    server.stop()


def test_a_trickling_answer_ends_at_the_deadline_as_a_timeout(trickle: TrickleServer) -> None:
    # Every byte comes 0.1 s after the last, far within the socket timeout, and the whole
    # answer would take several seconds: the call must still end at its 0.5 s deadline.
    settings = settings_for(
        trickle.url, backend_timeout_seconds=0.5, disconnect_timeout_seconds=0.5
    )
    for call in (
        lambda: forward(backend_client.pool(), settings, "c", {"type": "x"}),
        lambda: backend_client.validate_session(
            backend_client.pool(), settings, identity("s"), "t"
        ),
        lambda: backend_client.notify_disconnect(backend_client.pool(), settings, {}),
    ):
        started = time.monotonic()
        result = call()
        elapsed = time.monotonic() - started
        assert (result.outcome, result.body, result.ok) == (Outcome.TIMEOUT, b"", False)
        assert 0.45 <= elapsed < 0.9


def test_the_pool_works_after_a_trickling_answer(server: FakeServer) -> None:
    trickle = TrickleServer("body", interval=0.1).start()
    try:
        slow = settings_for(trickle.url, backend_timeout_seconds=0.3)
        assert forward(backend_client.pool(), slow, "c", {}).outcome is Outcome.TIMEOUT
    finally:
        trickle.stop()
    server.reply("POST", "/api/ws/message", Reply(200, {"ok": 1}))
    result = forward(backend_client.pool(), settings_for(server.url), "c", {})
    assert (result.outcome, json.loads(result.body)) == (Outcome.RESPONDED, {"ok": 1})


def test_a_trickling_answer_that_fits_the_deadline_is_complete() -> None:
    trickle = TrickleServer("body", interval=0.005).start()
    try:
        settings = settings_for(trickle.url, backend_timeout_seconds=5)
        result = forward(backend_client.pool(), settings, "c", {})
    finally:
        trickle.stop()
    assert (result.outcome, result.status, result.body) == (Outcome.RESPONDED, 200, BODY)


@pytest.mark.parametrize("phase", ["body", "headers"])
def test_a_trickling_tls_answer_ends_at_the_deadline(tmp_path: Path, phase: Phase) -> None:
    # The backend is HTTPS in production: the deadline must also hold on a TLS socket.
    cert, key = self_signed_certificate(tmp_path)
    http = backend_client.pool()
    http.connection_pool_kw["ca_certs"] = str(cert)
    fast = TrickleServer(phase, interval=0.0, tls=(cert, key)).start()
    slow = TrickleServer(phase, interval=0.1, tls=(cert, key)).start()
    try:
        assert forward(http, settings_for(fast.url), "c", {}).body == BODY
        settings = settings_for(slow.url, backend_timeout_seconds=0.5)
        started = time.monotonic()
        result = forward(http, settings, "c", {})
        elapsed = time.monotonic() - started
    finally:
        fast.stop()
        slow.stop()
    assert result.outcome is Outcome.TIMEOUT
    assert 0.45 <= elapsed < 0.9


def test_non_json_numbers_are_never_sent(server: FakeServer) -> None:
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match="JSON compliant"):
            forward(backend_client.pool(), settings_for(server.url), "c", {"n": value})
    assert server.seen() == []


# Header values http.client cannot send as given: outside latin-1 (UnicodeEncodeError inside
# urllib3), latin-1 but not ASCII (sent as bytes no backend reads alike), CR/LF (ValueError).
UNSENDABLE = ["tok✓", "tök", "tok\r\nX-Injected: 1", "tok\x00", "\ud800"]


@pytest.mark.parametrize("value", UNSENDABLE)
def test_a_token_that_cannot_be_a_header_is_refused_not_raised(
    server: FakeServer, value: str
) -> None:
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(server.url), identity("s"), value
    )
    assert result.outcome is Outcome.UNSENDABLE
    assert not result.ok
    assert server.seen() == []


@pytest.mark.parametrize("value", UNSENDABLE)
def test_a_connection_id_that_cannot_be_a_header_is_refused_not_raised(
    server: FakeServer, value: str
) -> None:
    http = backend_client.pool()
    result = forward(http, settings_for(server.url), value, {"a": 1})
    assert result.outcome is Outcome.UNSENDABLE
    assert server.seen() == []
    # The pool still works afterwards.
    server.default = Reply(200, {"type": "ok"})
    assert forward(http, settings_for(server.url), "c", {"a": 1}).ok


def test_a_session_id_without_a_utf8_form_is_refused_not_raised(server: FakeServer) -> None:
    result = backend_client.validate_session(
        backend_client.pool(), settings_for(server.url), identity("s\ud800"), "tok"
    )
    assert result.outcome is Outcome.UNSENDABLE
    assert server.seen() == []


def test_a_backend_url_with_a_path_keeps_it_in_every_request(server: FakeServer) -> None:
    server.reply("POST", "/base/api/ws/message", Reply(200, {"ok": 1}))
    server.reply("POST", "/base/api/labs/session/s/validate", Reply(200, {}))
    settings = settings_for(server.url + "/base")
    assert forward(backend_client.pool(), settings, "c", {}).ok
    assert backend_client.validate_session(backend_client.pool(), settings, identity("s"), "t").ok
    # the pool the manager holds for the origin is the one used (and reused)
    origin_pool = backend_client.pool().connection_from_url(server.url)
    assert origin_pool.num_connections == 1
    # after the pools were cleared, the manager's new pool is used
    backend_client.pool().clear()
    assert forward(backend_client.pool(), settings, "c", {}).ok
    assert backend_client.pool().connection_from_url(server.url) is not origin_pool
    assert backend_client.pool().connection_from_url(server.url).num_connections == 1
    assert [seen.path for seen in server.seen()] == [
        "/base/api/ws/message",
        "/base/api/labs/session/s/validate",
        "/base/api/ws/message",
    ]
