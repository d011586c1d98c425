"""The push's own path to ``@connections`` (``ws_bridge_backend.connections_api``) and its
handling of throttling: the signature is botocore's, header for header; a 429 is sent again
after a bounded backoff, and no message is lost or delivered twice.

The stub ``@connections`` here is a real HTTP server that answers 429 to the first posts of
each connection, then accepts, and counts what it accepted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import signal
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from ws_bridge_backend import push
from ws_bridge_backend.connections_api import ConnectionsApi
from ws_bridge_backend.connections_request import host_header, sigv4_headers
from ws_bridge_backend.push import PostOutcome, Pusher, PushResult
from ws_bridge_backend.registry import ConnectionRecord, ConnectionRegistry, RegistryError
from wslocal.local_ca import ensure_ca

REGION = "eu-west-1"


class Throttling(BaseHTTPRequestHandler):
    """``POST /prod/@connections/{id}``: 429 (``LimitExceededException``) to the first
    ``refusals`` posts of each id, 200 after; every post and every accepted one counted."""

    protocol_version = "HTTP/1.1"
    refusals = 0
    posts: Counter[str]
    accepted: Counter[str]
    bodies: dict[str, bytes]
    headers_seen: list[dict[str, str]]
    lock = threading.Lock()
    url = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        connection_id = unquote(self.path.rsplit("/", 1)[1])
        with self.lock:
            self.posts[connection_id] += 1
            refused = self.posts[connection_id] <= self.refusals
            if not refused:
                self.accepted[connection_id] += 1
                self.bodies[connection_id] = body
            self.headers_seen.append(dict(self.headers.items()))
        status, payload = (429, b'{"message":"Too Many Requests"}') if refused else (200, b"")
        self.send_response(status)
        if refused:
            self.send_header("x-amzn-ErrorType", "LimitExceededException")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return None


class Server(ThreadingHTTPServer):
    # A listen backlog of 64, not socketserver's 5: the push opens its connections at once,
    # and a dropped SYN is sent again after 1 s, the connect timeout.
    request_queue_size = 64
    daemon_threads = True


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Throttling]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # this test's credentials
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_SECONDS", 0.002)
    Throttling.refusals = 0
    Throttling.posts, Throttling.accepted = Counter(), Counter()
    Throttling.bodies, Throttling.headers_seen = {}, []
    server = Server(("127.0.0.1", 0), Throttling)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    Throttling.url = f"http://127.0.0.1:{server.server_address[1]}/prod"
    yield Throttling
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def https_stub(stub: type[Throttling], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The stub over TLS, with a certificate of a CA of its own: its URL and the CA's file."""
    ca = ensure_ca(tmp_path / "ca")
    server = Server(("127.0.0.1", 0), Throttling)
    server.socket = ca.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/prod", ca.ca_file
    server.shutdown()
    server.server_close()
    thread.join(5)


def fast_pusher(url: str, concurrency: int = 8) -> Pusher:
    registry = ConnectionRegistry("t", dynamodb=boto3.client("dynamodb", region_name=REGION))
    pusher = Pusher(registry, url, concurrency=concurrency)
    # The fast path is the one under test: a botocore that moved what it reads would fall
    # back to the client's own posts silently, but not here.
    assert pusher._api is not None
    return pusher


def records(count: int) -> list[ConnectionRecord]:
    return [ConnectionRecord(f"c{n:03d}/+=", "s", "u", 0, 0) for n in range(count)]


# ------------------------------------------------------------------------------ signature


@pytest.mark.parametrize("token", [None, "session-token/+="])
@pytest.mark.parametrize(
    ("endpoint", "connection_id"),
    [
        ("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod", "R0oXAdfD0kwCH6w="),
        ("https://ws.example.com:8443/v1/live", "a+b/c=d é"),
        ("http://127.0.0.1:4510/Stage", "~._-"),
    ],
)
def test_the_signature_is_botocores(endpoint: str, connection_id: str, token: str | None) -> None:
    credentials = Credentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token
    ).get_frozen_credentials()
    label = quote(connection_id, safe="-._~")
    url = f"{endpoint}/@connections/{label}"
    body = '{"type":"notice","text":"ü"}'.encode()
    reference = AWSRequest(method="POST", url=url, data=body, headers={"User-Agent": "x"})
    SigV4Auth(credentials, "execute-api", REGION).add_auth(reference)
    ours = sigv4_headers(
        method="POST",
        host=host_header(endpoint),
        path=urlsplit(url).path,
        body=body,
        region=REGION,
        credentials=credentials,
        amz_date=reference.headers["X-Amz-Date"],
    )
    wanted = {k: reference.headers[k] for k in ("X-Amz-Date", "Authorization")}
    if token:
        wanted["X-Amz-Security-Token"] = token
    assert ours == wanted


def test_the_signing_key_follows_the_secret_and_the_day() -> None:
    old = Credentials("AK", "old-secret").get_frozen_credentials()
    new = Credentials("AK", "new-secret").get_frozen_credentials()
    common: dict[str, Any] = {"method": "POST", "host": "h", "path": "/p", "body": b"x"}
    first = sigv4_headers(**common, region=REGION, credentials=old, amz_date="20260101T000000Z")
    rotated = sigv4_headers(**common, region=REGION, credentials=new, amz_date="20260101T000000Z")
    next_day = sigv4_headers(**common, region=REGION, credentials=old, amz_date="20260102T000000Z")
    signatures = {h["Authorization"].rsplit("=", 1)[1] for h in (first, rotated, next_day)}
    assert len(signatures) == 3


# ----------------------------------------------------------------------------- throttling


def test_throttled_posts_are_sent_again_none_lost_none_twice(stub: type[Throttling]) -> None:
    stub.refusals = 2
    connections = records(40)
    result = fast_pusher(stub.url).to_connections(connections, b'{"n":1}')
    assert result == PushResult(sent=40)
    ids = [c.connection_id for c in connections]
    assert stub.accepted == Counter(dict.fromkeys(ids, 1))  # each delivered exactly once
    assert stub.posts == Counter(dict.fromkeys(ids, 3))  # after two refusals each
    assert set(stub.bodies.values()) == {b'{"n":1}'}
    signed = stub.headers_seen[0]
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert signed["Host"] == host_header(stub.url)


def test_a_post_throttled_every_time_fails_after_the_last_attempt(stub: type[Throttling]) -> None:
    stub.refusals = 1000
    (connection,) = records(1)
    outcome = fast_pusher(stub.url).post(connection, b"x")
    assert outcome is PostOutcome.FAILED
    assert stub.posts[connection.connection_id] == push.THROTTLE_ATTEMPTS
    assert not stub.accepted


def test_the_backoff_grows_and_is_bounded(
    stub: type[Throttling], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.refusals = 1000
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return 0.0

    monkeypatch.setattr(random, "uniform", uniform)
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_SECONDS", 0.1)
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_CAP_SECONDS", 0.5)
    fast_pusher(stub.url).post(records(1)[0], b"x")
    assert bounds == [(0, 0.1), (0, 0.2), (0, 0.4), (0, 0.5), (0, 0.5)]


def test_throttling_never_holds_a_push_past_its_deadline(
    stub: type[Throttling], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.refusals = 1000
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_SECONDS", 0.4)
    pusher = fast_pusher(stub.url)
    started = time.monotonic()
    result = pusher.to_connections(records(4), b"x", deadline_seconds=0.3)
    assert time.monotonic() - started < 1.0
    assert result.sent == 0
    assert result.failed + result.skipped == 4
    assert not stub.accepted


def test_a_given_client_is_retried_on_429_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_SECONDS", 0.001)
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod",
        region_name=REGION,
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    registry = ConnectionRegistry("t", dynamodb=boto3.client("dynamodb", region_name=REGION))
    with Stubber(client) as stubbed:
        for _ in range(2):
            stubbed.add_client_error(
                "post_to_connection",
                service_error_code="LimitExceededException",
                http_status_code=429,
            )
        stubbed.add_response("post_to_connection", {}, {"ConnectionId": "A=", "Data": b"x"})
        connection = ConnectionRecord("A=", "s", "u", 0, 0)
        outcome = Pusher(registry, management=client).post(connection, b"x")
        stubbed.assert_no_pending_responses()
    assert outcome is PostOutcome.SENT


# ------------------------------------------------------------------- transport and lifecycle


def test_tls_is_verified_against_the_clients_ca_bundle(
    https_stub: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca_file = https_stub
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca_file))  # what the boto3 client trusts
    assert fast_pusher(url).post(records(1)[0], b"x") is PostOutcome.SENT
    assert Throttling.accepted == Counter({records(1)[0].connection_id: 1})


def test_a_server_the_client_does_not_trust_gets_nothing(https_stub: tuple[str, Path]) -> None:
    url, _ = https_stub  # the default trust store does not know the stub's CA
    assert fast_pusher(url).post(records(1)[0], b"x") is PostOutcome.FAILED
    assert not Throttling.posts


def test_a_push_from_async_code_runs_on_the_pushers_own_loop(stub: type[Throttling]) -> None:
    pusher = fast_pusher(stub.url)

    async def view() -> PushResult:  # an async view calling the synchronous push
        return pusher.to_connections(records(5), b"x")

    assert asyncio.run(view()) == PushResult(sent=5)


def test_close_stops_the_loop_and_a_later_push_starts_it_again(stub: type[Throttling]) -> None:
    def loop_threads() -> int:
        return sum(thread.name == "ws-bridge-push" for thread in threading.enumerate())

    before = loop_threads()
    with fast_pusher(stub.url) as pusher:
        assert pusher.to_connections(records(3), b"x") == PushResult(sent=3)
        assert loop_threads() == before + 1
    deadline = time.monotonic() + 5
    while loop_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loop_threads() == before
    assert pusher.to_connections(records(3), b"y") == PushResult(sent=3)
    pusher.close()


def test_a_forked_process_pushes_on_a_loop_of_its_own(stub: type[Throttling]) -> None:
    # A pre-forking server (gunicorn --preload) makes the Pusher, pushes, then forks: the
    # loop's thread is not in the child, which must start its own instead of waiting forever.
    pusher = fast_pusher(stub.url)
    assert pusher.to_connections(records(2), b"parent") == PushResult(sent=2)
    # Another thread holds the Pusher's lock at the fork: the child inherits it held, by a
    # thread it does not have.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pusher._loop._lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
        child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status
        signal.alarm(20)  # a child waiting for the parent's loop forever is killed
        try:
            result = pusher.to_connections(records(4), b"child")
            os._exit(0 if result == PushResult(sent=4) else 1)
        finally:
            os._exit(2)
    release.set()
    holder.join(5)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stub.bodies[records(4)[3].connection_id] == b"child"
    # The child left the parent's loop and connections alone: closing them there would have
    # unregistered the parent's sockets from the epoll instance both share.
    started = time.monotonic()
    assert pusher.to_connections(records(2), b"parent again") == PushResult(sent=2)
    assert time.monotonic() - started < 1.5  # not one 2 s read timeout
    assert stub.bodies[records(2)[1].connection_id] == b"parent again"


def test_close_during_a_push_cancels_it_instead_of_leaving_its_caller_waiting(
    stub: type[Throttling], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.refusals = 1000  # every post throttled: the push sleeps in its backoff
    monkeypatch.setattr(push, "THROTTLE_BACKOFF_SECONDS", 0.5)
    pusher = fast_pusher(stub.url)
    outcome: list[object] = []

    def push_all() -> None:
        try:
            outcome.append(pusher.to_connections(records(8), b"x"))
        except BaseException as exc:  # noqa: BLE001 - what the caller gets is the test
            outcome.append(exc)

    caller = threading.Thread(target=push_all)
    caller.start()
    time.sleep(0.3)
    pusher.close()
    caller.join(timeout=5)
    assert not caller.is_alive(), "the push's caller still waits after close()"
    assert isinstance(outcome[0], concurrent.futures.CancelledError)
    assert pusher.to_connections([], b"x") == PushResult()  # and it starts again


def test_what_a_failing_connection_list_gave_before_failing_is_posted(
    stub: type[Throttling],
) -> None:
    def connections() -> Iterator[ConnectionRecord]:
        yield from records(3)
        raise RegistryError("Query", "ThrottlingException")

    with pytest.raises(RegistryError):
        fast_pusher(stub.url).to_connections(connections(), b"x")
    assert set(stub.accepted) == {c.connection_id for c in records(3)}


def test_a_credential_refresh_runs_off_the_loop_so_posts_in_flight_go_on(
    stub: type[Throttling],
) -> None:
    class Refreshing:
        """Credentials that need a refresh (STS, the container's endpoint) once."""

        def __init__(self) -> None:
            self.checks = 0
            self.threads: list[str] = []

        def refresh_needed(self) -> bool:
            self.checks += 1
            return self.checks == 1

        def get_frozen_credentials(self) -> Credentials:
            self.threads.append(threading.current_thread().name)
            return Credentials("AKIDEXAMPLE", "secret")

    pusher = fast_pusher(stub.url)
    assert pusher._api is not None
    credentials = Refreshing()
    pusher._api._credentials = credentials  # type: ignore[assignment]
    assert pusher.to_connections(records(4), b"x") == PushResult(sent=4)
    assert sorted(credentials.threads) == ["ws-bridge-push"] * 3 + ["ws-bridge-push-blocking_0"]


def test_without_credentials_the_client_itself_posts() -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod",
        region_name=REGION,
    )
    assert ConnectionsApi.for_client(client, None, 8) is None
    assert ConnectionsApi.for_client(object(), Credentials("a", "b"), 8) is None  # type: ignore[arg-type]
