"""The App Runner example's app as the local stack's backend (``--backend example``): clients
connect, message and receive pushes through the deployed module and the app, and the signing
secret is rotated twice with ``put-secret-value`` while clients keep connecting and sending:
no connect and no message is refused.

The handler re-reads its key every 2 s here (examples/local's signing_key_refresh_seconds;
300 s by default) and the app as often, so a rotation takes seconds, not minutes. Needs a
redis-server (or valkey-server): without one the stack fails to start, saying how to
install it."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stack_support import StackHandle
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_bridge_backend.signing import sign_request
from ws_bridge_backend.traceparent import is_valid
from wslocal.redis_service import redis_service, redis_url
from wslocal.stack import (
    Stack,
    StackConfig,
    distinct_free_ports,
    example_backend_service,
    gateway_service,
)

pytestmark = pytest.mark.integration

SESSIONS = ("lab-1:alice", "lab-1:bob", "lab-2:carol")
REFRESH_SECONDS = 2


@pytest.fixture(scope="module")
def example() -> Iterator[StackHandle]:
    emulator, gateway, backend, connections, redis_port = distinct_free_ports(5)
    config = StackConfig(
        emulator_port=emulator,
        gateway_port=gateway,
        backend_port=backend,
        connections_port=connections,
        name="ws-example",
        # The emulator is the stack's own and stops with it: a destroy would only take
        # time (test_emulator, test_demo and the acceptance suite check destroy).
        destroy_on_exit=False,
        variables={"signing_key_refresh_seconds": REFRESH_SECONDS},
        services=(
            redis_service(redis_port),
            example_backend_service(redis_url(redis_port), SESSIONS),
            gateway_service(),
        ),
    )
    with Stack(config) as local:
        yield StackHandle(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway}/{local.outputs.stage_name}",
            backend_url=f"http://127.0.0.1:{backend}",
            connections_url=f"http://127.0.0.1:{connections}/{local.outputs.stage_name}",
        )


REQUEST_IDS = itertools.count(1)


def ask(ws: ClientConnection, message: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """Send ``message`` with a request id of its own and return the reply that carries it:
    every connection of a session receives every reply (and chat), others' included."""
    request_id = f"t.{next(REQUEST_IDS)}"
    ws.send(json.dumps({**message, "id": request_id}))
    deadline = time.monotonic() + timeout
    while True:
        reply: dict[str, Any] = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if reply.get("id") == request_id:
            return reply


def test_members_connect_and_others_are_refused(example: StackHandle) -> None:
    with connect(example.url(example.token("alice", "lab-1")), open_timeout=20) as ws:
        reply = ask(ws, {"type": "whoami"})
        assert (reply["type"], reply["userId"], reply["sessionId"]) == (
            "identity",
            "alice",
            "lab-1",
        )
        assert reply["connectionId"]
    with pytest.raises(InvalidStatus) as refused:
        connect(example.url(example.token("carol", "lab-1")), open_timeout=20)
    assert refused.value.response.status_code == 403


def untraced(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame without its traceparent, which must be a W3C one when present."""
    trace = frame.pop("traceparent", None)
    assert trace is None or is_valid(trace), trace
    return frame


def test_a_chat_is_pushed_to_every_connection_of_the_session(example: StackHandle) -> None:
    with (
        connect(example.url(example.token("alice", "lab-1")), open_timeout=20) as alice,
        connect(example.url(example.token("bob", "lab-1")), open_timeout=20) as bob,
        connect(example.url(example.token("carol", "lab-2")), open_timeout=20) as carol,
    ):
        alice.send(json.dumps({"type": "chat", "text": "hello lab-1", "id": "a.1"}))
        # The handler adds the message's traceparent to the reply it passes back (the
        # requester's copy); the copies pushed to the session's other connections lack it.
        frames = sorted(
            (untraced(json.loads(alice.recv(timeout=10))) for _ in range(2)),
            key=lambda f: f["seq"],
        )
        chat = {"type": "chat", "from": "alice", "sessionId": "lab-1", "text": "hello lab-1"}
        ack = {"type": "chat_ack", "delivered": 2, "id": "a.1"}
        first = frames[0]["seq"]
        assert frames == [{"seq": first, **chat}, {"seq": first + 1, **ack}]
        # Bob gets the chat and, like every connection of the session, Alice's reply.
        assert (
            sorted(
                (untraced(json.loads(bob.recv(timeout=10))) for _ in range(2)),
                key=lambda f: f["seq"],
            )
            == frames
        )
        with pytest.raises(TimeoutError):
            carol.recv(timeout=1)


def test_the_app_refuses_a_request_that_is_not_the_handler_s(example: StackHandle) -> None:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{example.backend_url}/api/ws/message",
        data=json.dumps(
            {"type": "whoami", "connectionId": "x", "sessionId": "lab-1", "userId": "alice"}
        ).encode(),
        headers={"Content-Type": "application/json", "X-Connection-Id": "x"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 401


class Traffic:
    """Clients that keep sending (and new ones that keep connecting) until stopped; every
    refusal is kept."""

    def __init__(self, stack: StackHandle) -> None:
        self.stack = stack
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.messages = 0
        self.connects = 0
        self.lock = threading.Lock()

    def _fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)

    def sender(self, user: str) -> None:
        try:
            with connect(self.stack.url(self.stack.token(user, "lab-1")), open_timeout=20) as ws:
                while not self.stop.is_set():
                    reply = ask(ws, {"type": "whoami"})
                    if reply.get("type") != "identity" or reply.get("userId") != user:
                        self._fail(f"message of {user}: {reply}")
                    with self.lock:
                        self.messages += 1
                    time.sleep(0.05)
        except Exception as error:  # noqa: BLE001 - kept, and the test fails on it
            self._fail(f"sender {user}: {type(error).__name__}: {error}")

    def connector(self) -> None:
        while not self.stop.is_set():
            try:
                with connect(
                    self.stack.url(self.stack.token("bob", "lab-1")), open_timeout=20
                ) as ws:
                    if ask(ws, {"type": "whoami"}).get("type") != "identity":
                        self._fail("a new connection's message")
                with self.lock:
                    self.connects += 1
            except Exception as error:  # noqa: BLE001 - kept, and the test fails on it
                self._fail(f"connect: {type(error).__name__}: {error}")
            time.sleep(0.2)


def direct(stack: StackHandle, key: bytes) -> int:
    """A whoami signed with ``key``, straight to the app: its status."""
    body = json.dumps(
        {"type": "whoami", "connectionId": "d", "sessionId": "lab-1", "userId": "alice"}
    ).encode()
    headers = {"X-Connection-Id": "d", "Content-Type": "application/json"}
    headers.update(
        sign_request(key, "POST", "/api/ws/message", body, headers={"X-Connection-Id": "d"})
    )
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{stack.backend_url}/api/ws/message", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_rotating_the_signing_key_during_traffic_refuses_nothing(example: StackHandle) -> None:
    arn = example.local.outputs.backend_signing_secret_arn
    assert arn, "examples/local must sign backend requests"
    client = example.local.client("secretsmanager")
    first = str(client.get_secret_value(SecretId=arn)["SecretString"]).encode()
    traffic = Traffic(example)
    threads = [threading.Thread(target=traffic.sender, args=(user,)) for user in ("alice", "bob")]
    threads.append(threading.Thread(target=traffic.connector))
    for thread in threads:
        thread.start()
    try:
        keys = [first]
        for _ in range(2):  # two rotations: the first key is then accepted nowhere
            time.sleep(3 * REFRESH_SECONDS)
            keys.append(secrets.token_hex(32).encode())
            client.put_secret_value(SecretId=arn, SecretString=keys[-1].decode())
        time.sleep(4 * REFRESH_SECONDS)  # everyone has moved to the newest key
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert traffic.failures == []
    assert traffic.messages > 50
    assert traffic.connects > 10
    # The handler followed the rotations: the first key is refused, the newest accepted.
    assert direct(example, keys[0]) == 401
    assert direct(example, keys[-1]) == 200
