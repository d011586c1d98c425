"""Faults over real WebSockets, through the module applied to the local emulator: a backend
that is down (dropping connections, or its process stopped), answering 5xx or invalid JSON,
or slower than the handler's timeout; ``@connections`` answering 410 for a connection whose
``$disconnect`` never arrived; and the TTL that removes such records.

Every fault must end in a clear answer to the client well before API Gateway's 29 s
integration limit, with no record stored for a refused connection and none lost for an open
one. DynamoDB throttling cannot be injected into the emulator: tests/unit/test_hostile_faults.py
covers it against a fake DynamoDB endpoint.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_bridge_backend.registry import ConnectionRegistry

if TYPE_CHECKING:
    from stack_support import StackHandle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OPEN = 101
INTEGRATION_LIMIT_SECONDS = 29.0
BACKEND_TIMEOUT_SECONDS = 10.0  # examples/local keeps the module's default
TTL_SECONDS = 7200  # the module's default connection_ttl_seconds
# A fault the backend answers at once (or a refused/dropped connection) must be reported
# without waiting for the handler's backend timeout: each answer comes before it ends (a
# loaded machine may take seconds, but not the whole timeout).
ANSWERED_AT_ONCE_SECONDS = BACKEND_TIMEOUT_SECONDS


# ---------------------------------------------------------------------------- helpers


def open_ws(stack: StackHandle, sub: str = "alice", session: str = "lab-1") -> ClientConnection:
    return connect(
        stack.url(stack.token(sub=sub, session=session)),
        open_timeout=INTEGRATION_LIMIT_SECONDS + 5,
        close_timeout=5,
        proxy=None,
    )


def handshake(stack: StackHandle, sub: str = "bob") -> int:
    try:
        with open_ws(stack, sub=sub):
            return OPEN
    except InvalidStatus as refused:
        return refused.response.status_code


def ask(ws: ClientConnection, message: Any, timeout: float = 15.0) -> dict[str, Any]:
    ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return reply


def record_ids(stack: StackHandle) -> set[str]:
    return {item["connectionId"]["S"] for item in stack.records()}


def wait_for(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


def timed[T](call: Callable[[], T]) -> tuple[T, float]:
    """`call()` and the seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def fault(stack: StackHandle, mode: str, *endpoints: str, **settings: Any) -> None:
    body = {"mode": mode, **({"endpoints": list(endpoints)} if endpoints else {}), **settings}
    assert stack.backend("POST", "/api/admin/faults", body)["mode"] == mode


@contextmanager
def own_session(stack: StackHandle, user: str = "alice") -> Iterator[str]:
    """A session of its own (a unique id) that only `user` belongs to, for counts that
    connections of other tests must not disturb."""
    session_id = f"faults-{uuid.uuid4().hex[:12]}"
    stack.backend("PUT", f"/api/admin/sessions/{session_id}", {"users": [user]})
    try:
        yield session_id
    finally:
        stack.backend("DELETE", f"/api/admin/sessions/{session_id}")


@contextmanager
def connected(stack: StackHandle, session: str = "lab-1") -> Iterator[tuple[ClientConnection, str]]:
    """An open connection (made while the backend is healthy) and its id; on exit, waits
    until $disconnect has deleted its record, so the next test does not meet it."""
    with open_ws(stack, session=session) as ws:
        reply = ask(ws, {"type": "command", "command": "whoami"})
        connection_id = str(reply["connectionId"])
        assert connection_id in record_ids(stack)
        yield ws, connection_id
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")


def assert_error(reply: dict[str, Any], code: str) -> None:
    assert reply["type"] == "error", reply
    assert reply["error"] == code
    assert reply["message"]
    assert reply["requestId"]


def put_record(stack: StackHandle, connection_id: str, expires_at: int, session: str) -> None:
    """A connection record as the handler writes it (for a connection that no longer exists)."""
    stack.local.client("dynamodb").put_item(
        TableName=stack.local.outputs.table_name,
        Item={
            "connectionId": {"S": connection_id},
            "sessionId": {"S": session},
            "userId": {"S": "alice"},
            "connectedAt": {"N": str(int(time.time() * 1000) - 60_000)},
            "expiresAt": {"N": str(expires_at)},
        },
    )


def delete_record(stack: StackHandle, connection_id: str) -> None:
    stack.local.client("dynamodb").delete_item(
        TableName=stack.local.outputs.table_name, Key={"connectionId": {"S": connection_id}}
    )


# ---------------------------------------------------------------------------- backend faults


@pytest.mark.parametrize(
    ("mode", "settings", "connect_status", "message_error"),
    [
        ("down", {}, 502, "backend_unavailable"),
        ("error_5xx", {"status": 500}, 502, "backend_error"),
        ("error_5xx", {"status": 503}, 502, "backend_error"),
        ("invalid_json", {}, None, "backend_invalid_reply"),
    ],
    ids=["down", "500", "503", "invalid-json"],
)
def test_a_failing_backend_gets_clear_answers_and_loses_no_record(
    healthy_backend: StackHandle,
    mode: str,
    settings: dict[str, Any],
    connect_status: int | None,
    message_error: str,
) -> None:
    stack = healthy_backend
    with connected(stack) as (ws, connection_id):
        fault(stack, mode, "validate", "message", "disconnect", **settings)
        reply, seconds = timed(lambda: ask(ws, {"type": "command", "command": "ls"}))
        assert_error(reply, message_error)
        assert seconds < ANSWERED_AT_ONCE_SECONDS
        if connect_status is not None:  # a validate answer that is 2xx but not JSON is valid
            before = record_ids(stack)
            status, seconds = timed(lambda: handshake(stack))
            assert status == connect_status
            assert seconds < ANSWERED_AT_ONCE_SECONDS
            assert record_ids(stack) <= before
        assert ask(ws, {"type": "ping"})["type"] == "pong"  # still usable
        assert connection_id in record_ids(stack)
    # $disconnect deletes the record although the backend's notice fails
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")


def test_a_stopped_backend_gets_clear_answers_and_loses_no_record(
    healthy_backend: StackHandle, request: pytest.FixtureRequest
) -> None:
    stack = healthy_backend
    with connected(stack) as (ws, connection_id):
        request.getfixturevalue("backend_stopped")  # the process ends, its port closes
        before = record_ids(stack)
        reply, seconds = timed(lambda: ask(ws, {"type": "command", "command": "ls"}))
        assert_error(reply, "backend_unavailable")
        assert seconds < ANSWERED_AT_ONCE_SECONDS
        status, seconds = timed(lambda: handshake(stack))
        assert status == 502
        assert seconds < ANSWERED_AT_ONCE_SECONDS
        assert record_ids(stack) <= before
        assert ask(ws, {"type": "ping"})["type"] == "pong"
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")


def test_a_backend_slower_than_the_timeout_gets_an_error_before_29_s(
    healthy_backend: StackHandle,
) -> None:
    stack = healthy_backend
    with connected(stack) as (ws, _):
        fault(stack, "slow", "validate", "message", delay_seconds=INTEGRATION_LIMIT_SECONDS + 5)
        before = record_ids(stack)

        # A message on an open connection and a new handshake wait at the same time.
        with ThreadPoolExecutor(max_workers=2) as pool:
            message = pool.submit(
                timed, lambda: ask(ws, {"type": "command", "command": "sleep"}, timeout=60)
            )
            connecting = pool.submit(timed, lambda: handshake(stack))
            (reply, reply_seconds), (status, connect_seconds) = (
                message.result(timeout=60),
                connecting.result(timeout=60),
            )
        assert_error(reply, "backend_timeout")
        assert status == 502
        for seconds in (reply_seconds, connect_seconds):
            assert BACKEND_TIMEOUT_SECONDS - 0.5 <= seconds < BACKEND_TIMEOUT_SECONDS + 5
            assert seconds < INTEGRATION_LIMIT_SECONDS
        assert record_ids(stack) <= before
        fault(stack, "none")
        assert ask(ws, {"type": "ping"})["type"] == "pong"


def test_a_slow_disconnect_notice_does_not_delay_the_record_deletion(
    healthy_backend: StackHandle,
) -> None:
    stack = healthy_backend
    with connected(stack) as (_, connection_id):
        fault(stack, "slow", "disconnect", delay_seconds=20)
        closed = time.monotonic()
    # The record is deleted before the notice, whose own timeout is 2 s.
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion", 5)
    assert time.monotonic() - closed < 5


# ---------------------------------------------------------------------------- stale records


def test_a_410_from_connections_deletes_the_stale_record_and_only_it(
    healthy_backend: StackHandle,
) -> None:
    # A connection whose $disconnect never arrived: its record remains, unexpired, but
    # API Gateway knows no such connection and answers 410 to a push.
    stack = healthy_backend
    stale = "St4leC0nnect10n="
    with own_session(stack) as session:
        try:
            with connected(stack, session) as (ws, live):
                # Written after the connection's first reply, which also goes to the
                # session's other connections (and would already find this one gone).
                put_record(stack, stale, int(time.time()) + 3600, session)
                pushed = stack.backend(
                    "POST", f"/api/push/session/{session}", {"type": "notice", "n": 1}
                )
                assert pushed == {"sent": 1, "gone": 1, "failed": 0, "seq": 2}
                assert json.loads(ws.recv(timeout=10)) == {"seq": 2, "type": "notice", "n": 1}
                ids = record_ids(stack)
                assert stale not in ids
                assert live in ids
        finally:
            delete_record(stack, stale)


def test_records_expire_by_ttl_in_epoch_seconds(healthy_backend: StackHandle) -> None:
    stack = healthy_backend
    table = stack.local.outputs.table_name
    dynamodb = stack.local.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")

    started = int(time.time())
    with own_session(stack) as session, connected(stack, session) as (_, connection_id):
        finished = int(time.time()) + 1
        item = dynamodb.get_item(TableName=table, Key={"connectionId": {"S": connection_id}})
        record = item["Item"]
        expires_at = int(record["expiresAt"]["N"])
        # epoch SECONDS (a millisecond value would be ~1000 times larger and never expire)
        assert started + TTL_SECONDS <= expires_at <= finished + TTL_SECONDS
        assert started * 1000 <= int(record["connectedAt"]["N"]) <= finished * 1000

        # What the registry returns is decided by that value: live until expiresAt, gone at it.
        def found(now: float) -> bool:
            registry = ConnectionRegistry(table, dynamodb=dynamodb, clock=lambda: now)
            return connection_id in {c.connection_id for c in registry.for_session(session)}

        assert found(expires_at - 1)
        assert not found(expires_at)


def test_an_expired_record_whose_disconnect_never_arrived_is_never_used(
    healthy_backend: StackHandle,
) -> None:
    # The emulator, like DynamoDB for up to days, keeps expired items: readers must skip them.
    stack = healthy_backend
    table = stack.local.outputs.table_name
    dynamodb = stack.local.client("dynamodb")
    abandoned = "Ab4nd0nedC0nn3c="
    with own_session(stack) as session:
        put_record(stack, abandoned, int(time.time()) - 1, session)
        try:
            with connected(stack, session) as (ws, live):
                connections = ConnectionRegistry(table, dynamodb=dynamodb).for_session(session)
                assert {c.connection_id for c in connections} == {live}
                pushed = stack.backend(
                    "POST", f"/api/push/session/{session}", {"type": "notice", "n": 2}
                )
                # not even attempted: a 410 would have counted as gone and deleted it
                assert pushed == {"sent": 1, "gone": 0, "failed": 0, "seq": 2}
                assert json.loads(ws.recv(timeout=10)) == {"seq": 2, "type": "notice", "n": 2}
                assert abandoned in record_ids(stack)
        finally:
            delete_record(stack, abandoned)


def test_a_push_to_a_connection_whose_token_expired_closes_it_instead(
    healthy_backend: StackHandle,
) -> None:
    # The client never sends, so the handler never sees the expiry: the push must.
    stack = healthy_backend
    with own_session(stack) as session:
        token = stack.token(session=session, exp=int(time.time()) + 3)
        with connect(stack.url(token), open_timeout=20, close_timeout=5) as ws:
            reply = ask(ws, {"type": "command", "command": "whoami"})
            connection_id = str(reply["connectionId"])
            time.sleep(4)  # the token expires while the connection stays open
            pushed = stack.backend("POST", f"/api/push/session/{session}", {"type": "notice"})
            assert pushed == {"sent": 0, "gone": 0, "failed": 0, "expired": 1, "seq": 2}
            farewell = json.loads(ws.recv(timeout=10))
            assert (farewell["type"], farewell["error"]) == ("error", "token_expired")
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)  # closed by the push, not by the client
        wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")
