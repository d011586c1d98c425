"""Pushing to clients through @connections with the backend SDK (``ws_bridge_backend.push``),
over records the connection handler writes (``ws_bridge.connections_table``): the reader and
the writer of the registry are checked together.

moto's @connections accepts every post and never answers 410 (GoneException), so the stale
connection case stubs exactly that boto3 call with botocore's Stubber; the DynamoDB side is
moto throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from bridge_fakes import REGION, FakeServer, Reply, scan
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ws_bridge import connections_table
from ws_bridge.outcomes import ERRORS
from ws_bridge_backend import push
from ws_bridge_backend.push import PostOutcome, Pusher, PushResult
from ws_bridge_backend.registry import ConnectionRecord, ConnectionRegistry, RegistryError

ENDPOINT = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"


def add(
    table: str,
    connection_id: str,
    session: str = "s1",
    user: str = "u1",
    age: float = 60,
    token_expires_at: int | None = None,
) -> None:
    """A record of a connection made ``age`` seconds ago, as the handler writes it."""
    connections_table.put_connection(
        table,
        connections_table.new_connection(
            connection_id,
            session,
            user,
            ttl_seconds=600,
            token_expires_at=token_expires_at,
            now=time.time() - age,
        ),
    )


def management_client() -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION)


def pusher(table: str, management: Any = None, **options: Any) -> Pusher:
    registry = ConnectionRegistry(table, dynamodb=boto3.client("dynamodb", region_name=REGION))
    if management is None:
        return Pusher(registry, ENDPOINT, **options)
    return Pusher(registry, management=management, **options)


def record(connection_id: str, token_expires_at: int | None = None) -> ConnectionRecord:
    return ConnectionRecord(connection_id, "s", "u", 0, 0, token_expires_at)


def received(connection_id: str) -> bytes:
    """What moto's @connections got for one id (moto keys them by the URL-encoded path)."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    data = [
        bytes(connection.data)
        for key, connection in list(backend.connections.items())
        if unquote(key) == connection_id
    ]
    return data[0] if data else b""


def test_push_to_session_reaches_every_connection_of_that_session(table: str) -> None:
    add(table, "A=")
    add(table, "B=")
    add(table, "C=", session="s2")
    result = pusher(table).to_session("s1", {"type": "output", "text": "ü"})
    assert result == PushResult(sent=2, gone=0, failed=0)
    assert received("A=") == received("B=") == '{"type":"output","text":"ü"}'.encode()
    assert received("C=") == b""
    assert set(scan()) == {"A=", "B=", "C="}


def test_push_to_user(table: str) -> None:
    add(table, "A=", user="alice")
    add(table, "B=", session="s2", user="alice")
    add(table, "C=", user="bob")
    result = pusher(table).to_user("alice", "plain text")
    assert result.sent == 2
    assert received("A=") == received("B=") == b"plain text"


def test_gone_connection_loses_its_record_and_only_its_record(table: str) -> None:
    add(table, "live=")
    add(table, "stale=")
    add(table, "other=", session="s2")
    connections = sorted(pusher(table).registry.for_session("s1"), key=lambda c: c.connection_id)
    assert [c.connection_id for c in connections] == ["live=", "stale="]
    client = management_client()
    data = b'{"type":"output"}'
    with Stubber(client) as stub:
        stub.add_response("post_to_connection", {}, {"ConnectionId": "live=", "Data": data})
        stub.add_client_error(
            "post_to_connection",
            service_error_code="GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": "stale=", "Data": data},
        )
        # The stubber answers in call order: one thread, so the order is the list's.
        result = pusher(table, client, concurrency=1).to_connections(connections, data)
        stub.assert_no_pending_responses()
    assert result == PushResult(sent=1, gone=1, failed=0)
    assert set(scan()) == {"live=", "other="}


def test_gone_while_connect_may_still_be_running_keeps_the_record(table: str) -> None:
    # API Gateway answers 410 to a post that lands before $connect has answered: deleting the
    # record then would lose a connection that is about to be live.
    add(table, "young=", age=5)
    add(table, "old=", age=31)
    client = management_client()
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "post_to_connection", service_error_code="GoneException", http_status_code=410
            )
        assert pusher(table, client).post(record("young="), b"x") is PostOutcome.GONE
        assert pusher(table, client).post(record("old="), b"x") is PostOutcome.GONE
    assert set(scan()) == {"young="}


@pytest.mark.parametrize(
    ("code", "status"), [("ForbiddenException", 403), ("PayloadTooLargeException", 413)]
)
def test_other_errors_keep_the_record(table: str, code: str, status: int) -> None:
    add(table, "A=")
    client = management_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "post_to_connection", service_error_code=code, http_status_code=status
        )
        outcome = pusher(table, client).post(record("A="), b"x")
    assert outcome is PostOutcome.FAILED
    assert set(scan()) == {"A="}


def test_gone_when_the_record_cannot_be_deleted_still_counts_as_gone(moto: None) -> None:
    client = management_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410
        )
        outcome = pusher("no-such-table", client).post(record("A="), b"x")
    assert outcome is PostOutcome.GONE


def test_messages_over_128_kb_are_refused_before_any_call(table: str) -> None:
    add(table, "A=")
    with pytest.raises(ValueError, match="at most 131072 bytes"):
        pusher(table).to_session("s1", "x" * (128 * 1024 + 1))
    assert received("A=") == b""


def test_encode_message() -> None:
    assert push.encode_message({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert push.encode_message("é") == "é".encode()
    assert push.encode_message(b"\x00") == b"\x00"
    assert json.loads(push.encode_message({"k": "v" * 1000}))["k"] == "v" * 1000


def test_a_client_or_an_endpoint_is_needed(table: str) -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        Pusher(ConnectionRegistry(table))


@pytest.mark.parametrize(
    "reply",
    [Reply(500, {"message": "Internal server error"}), Reply(503, {}), Reply(drop=True)],
    ids=["500", "503", "dropped"],
)
def test_a_failed_post_is_not_sent_twice(
    server: FakeServer, reply: Reply, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The message may have reached the client before the failure: a retry could deliver it
    # twice, so the client of the @connections API makes one attempt only.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    server.default = reply
    registry = ConnectionRegistry("t", dynamodb=boto3.client("dynamodb", region_name=REGION))
    outcome = Pusher(registry, f"{server.url}/prod").post(record("A="), b"hello")
    assert outcome is PostOutcome.FAILED
    (post,) = server.seen()
    assert (post.method, post.path, post.body) == ("POST", "/prod/@connections/A%3D", b"hello")


def test_push_to_session_encodes_the_message_once(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(table, "A=")
    add(table, "B=")
    calls: list[object] = []
    encode = push.encode_message

    def counting(message: Any) -> bytes:
        calls.append(message)
        return encode(message)

    monkeypatch.setattr(push, "encode_message", counting)
    result = pusher(table).to_session("s1", {"type": "output"})
    assert result.sent == 2
    assert calls.count({"type": "output"}) == 1
    assert received("A=") == received("B=") == b'{"type":"output"}'


@pytest.mark.parametrize(
    "message",
    [{"n": float("inf")}, {"n": float("nan")}, {"text": "\ud800"}, "\udfff"],
    ids=["infinity", "nan", "lone-surrogate", "lone-surrogate-string"],
)
def test_messages_that_are_not_strict_json_are_refused_before_any_call(
    table: str, message: Any
) -> None:
    add(table, "A=")
    with pytest.raises(ValueError, match=r"not JSON compliant|surrogates not allowed"):
        pusher(table).to_session("s1", message)
    assert received("A=") == b""


class _Gone(ClientError):
    pass


class FakeManagement:
    """An @connections client: records each post, answers 410 for ``gone`` ids, 500 for
    ``failing`` ids, each post taking ``latency`` seconds; counts posts in flight."""

    def __init__(
        self, gone: Iterable[str] = (), failing: Iterable[str] = (), latency: float = 0.01
    ) -> None:
        self.exceptions = type("Exceptions", (), {"GoneException": _Gone})
        self.gone, self.failing, self.latency = set(gone), set(failing), latency
        self.posts: Counter[str] = Counter()
        self.data: dict[str, list[bytes]] = {}
        self.deleted: list[str] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        with self._lock:
            self.posts[ConnectionId] += 1
            self.data.setdefault(ConnectionId, []).append(Data)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            if ConnectionId in self.gone or ConnectionId in self.deleted:
                raise _Gone({"Error": {"Code": "GoneException"}}, "PostToConnection")
            if ConnectionId in self.failing:
                error = {"Error": {"Code": "InternalServerError"}}
                raise ClientError(error, "PostToConnection")  # type: ignore[arg-type]
            return {}
        finally:
            with self._lock:
                self.in_flight -= 1

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        with self._lock:
            self.deleted.append(ConnectionId)
        return {}


def test_a_parallel_push_posts_once_to_each_and_cleans_up_what_is_gone(table: str) -> None:
    ids = [f"c{n:03d}=" for n in range(120)]
    gone = set(ids[:15])  # connected a minute ago: stale records
    young = {"young="}  # 410 while its $connect may still run: kept
    failing = set(ids[15:25])
    for connection_id in ids:
        add(table, connection_id)
    add(table, "young=", age=5)
    fake = FakeManagement(gone=gone | young, failing=failing)
    result = pusher(table, fake).to_session("s1", b"hi")
    assert result == PushResult(sent=95, gone=16, failed=10)
    assert fake.posts == Counter(dict.fromkeys([*ids, "young="], 1))  # each exactly once
    assert 1 < fake.most_in_flight <= push.PUSH_CONCURRENCY
    assert set(scan()) == (set(ids) - gone) | young


def test_the_pool_is_as_large_as_the_clients_connection_pools(moto: None) -> None:
    from ws_bridge_backend.registry import DYNAMODB_CONFIG

    assert push.MANAGEMENT_API_CONFIG.max_pool_connections == push.PUSH_CONCURRENCY
    assert DYNAMODB_CONFIG.max_pool_connections == push.PUSH_CONCURRENCY
    fake = FakeManagement(latency=0.02)
    connections = [record(f"c{n}=") for n in range(200)]
    result = pusher("t", fake).to_connections(connections, b"x")
    assert result.sent == 200
    assert fake.most_in_flight == push.PUSH_CONCURRENCY


def test_a_session_of_dead_connections_does_not_hold_the_caller(moto: None) -> None:
    # Each failing post holds a thread for its timeout (here 0.2 s): 64 of them one after
    # another took 12.8 s; in parallel they take a few post latencies.
    ids = [f"dead{n}=" for n in range(64)]
    fake = FakeManagement(failing=set(ids), latency=0.2)
    connections = [record(i) for i in ids]
    started = time.monotonic()
    result = pusher("t", fake).to_connections(connections, b"x")
    assert time.monotonic() - started < 3.0
    assert result == PushResult(failed=64)


def test_the_deadline_skips_what_was_not_posted_in_time(moto: None) -> None:
    fake = FakeManagement(latency=0.05)
    connections = [record(f"c{n}=") for n in range(400)]
    started = time.monotonic()
    result = pusher("t", fake, concurrency=4).to_connections(
        connections, b"x", deadline_seconds=0.2
    )
    assert time.monotonic() - started < 1.5
    assert result.skipped > 0
    assert result.sent == sum(fake.posts.values()) == len(fake.posts)  # none sent twice
    assert result.sent + result.skipped == 400
    assert result.attempted == result.sent


def test_a_failing_connection_list_is_raised_to_the_caller(moto: None) -> None:
    def connections() -> Iterator[ConnectionRecord]:
        yield record("a=")
        raise RegistryError("Query", "ThrottlingException")

    with pytest.raises(RegistryError):
        pusher("t", FakeManagement()).to_connections(connections(), b"x")


# ---------------------------------------------------------------------------- expired tokens


def test_a_connection_whose_token_expired_is_told_and_closed_not_pushed_to(table: str) -> None:
    now = int(time.time())
    add(table, "fresh=", token_expires_at=now + 600)
    add(table, "expired=", token_expires_at=now - 1)
    add(table, "no-exp=")
    fake = FakeManagement()
    result = pusher(table, fake).to_session("s1", {"type": "notice"})
    assert result == PushResult(sent=2, expired=1)
    assert fake.data["fresh="] == fake.data["no-exp="] == [b'{"type":"notice"}']
    (farewell,) = fake.data["expired="]
    assert json.loads(farewell) == dict(push.TOKEN_EXPIRED_FRAME)
    assert fake.deleted == ["expired="]


def test_the_expired_frame_is_the_handler_s_token_expired_error() -> None:
    _status, text = ERRORS["token_expired"]
    assert {"type": "error", "error": "token_expired", "message": text} == push.TOKEN_EXPIRED_FRAME


def test_the_registry_reads_what_the_handler_writes(table: str) -> None:
    add(table, "A=", session="lab@1", user="alice|x", token_expires_at=1_900_000_000)
    (found,) = ConnectionRegistry(table).for_session("lab@1")
    written = scan()["A="]
    assert found == ConnectionRecord(
        "A=", "lab@1", "alice|x", written["connectedAt"], written["expiresAt"], 1_900_000_000
    )
    assert ConnectionRegistry(table).for_user("alice|x") == [found]
    assert found.token_expired(1_900_000_000)
    assert not found.token_expired(1_899_999_999)


def test_push_needs_nothing_of_the_lambda_package() -> None:
    # Backends import the SDK alone: nothing of the Lambda package comes along.
    code = (
        "import sys, ws_bridge_backend.push; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ws_bridge'))"
    )
    sdk = os.path.join(os.path.dirname(push.__file__), "..")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": sdk},
    ).stdout
    assert out.strip() == "[]"
