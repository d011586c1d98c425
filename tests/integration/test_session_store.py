"""The reference backend's session state in a real Redis server, through the whole stack:
messages sent over the WebSocket API reach the backend through the deployed handler, the
backend keeps the terminal size and command results in Redis, and that state survives a
backend restart and is shared with a second backend process on the same server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from stack_support import SESSIONS
from websockets.sync.client import connect

from wslocal.devtoken import mint_token
from wslocal.redis_service import redis_backend_service, redis_service, redis_url
from wslocal.stack import Stack, StackConfig, free_port, gateway_service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class RedisStack:
    local: Stack
    ws_url: str
    redis_url: str
    redis_port: int
    second_backend_port: int

    def backend_url(self, name: str = "backend") -> str:
        return f"http://127.0.0.1:{self.local.service_ports[name]}"

    def state(self, session: str, backend: str = "backend") -> dict[str, Any]:
        url = f"{self.backend_url(backend)}/api/admin/sessions/{session}/state"
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - 127.0.0.1
            state: dict[str, Any] = json.loads(answer.read())
        return state

    def send(
        self, messages: list[dict[str, Any]], sub: str = "alice", session: str = "lab-1"
    ) -> list[Any]:
        """Connect as `sub` to `session`, send `messages`, return the replies."""
        token = mint_token(self.local.jwt_secret, sub=sub, session_id=session)
        replies = []
        with connect(
            f"{self.ws_url}?{urlencode({'token': token})}", open_timeout=30, proxy=None
        ) as ws:
            for message in messages:
                ws.send(json.dumps(message))
                replies.append(json.loads(ws.recv(timeout=30)))
        return replies


def _signature(stack: RedisStack, service: str, path: str, body: bytes) -> dict[str, str]:
    """The handler's request-signature headers when the backend checks them (it is given
    --signing-secret-arn), as the deployed handler would send; none otherwise."""
    argv = stack.local.services[service].argv
    if "--signing-secret-arn" not in argv:
        return {}
    from ws_bridge_backend.signing import sign_request

    arn = argv[argv.index("--signing-secret-arn") + 1]
    secret = stack.local.client("secretsmanager").get_secret_value(SecretId=arn)
    signed = {"X-Connection-Id": "direct"}
    return dict(sign_request(secret["SecretString"].encode(), "POST", path, body, headers=signed))


def _distinct_ports(count: int) -> list[int]:
    for _ in range(50):
        ports = [free_port() for _ in range(count)]
        if len(set(ports)) == count:
            return ports
    raise RuntimeError("no distinct free ports")


@pytest.fixture(scope="module")
def redis_stack() -> Iterator[RedisStack]:
    emulator, gateway, backend, connections, redis_port, second = _distinct_ports(6)
    url = redis_url(redis_port)
    config = StackConfig(
        emulator_port=emulator,
        gateway_port=gateway,
        backend_port=backend,
        connections_port=connections,
        name="ws-redis",
        # The emulator is the stack's own and stops with it: a destroy would only take
        # time (test_emulator, test_demo and the acceptance suite check destroy).
        destroy_on_exit=False,
        services=(
            redis_service(redis_port),
            redis_backend_service(url, SESSIONS),
            gateway_service(),
        ),
    )
    with Stack(config) as local:
        yield RedisStack(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway}/{local.outputs.stage_name}",
            redis_url=url,
            redis_port=redis_port,
            second_backend_port=second,
        )


def test_state_from_websocket_messages_is_kept_in_redis(redis_stack: RedisStack) -> None:
    replies = redis_stack.send(
        [
            {"type": "resize", "cols": 120, "rows": 40},
            {"type": "command", "command": "ls -la"},
        ]
    )
    assert [reply["type"] for reply in replies] == ["resize_ack", "command_result"]
    state = redis_stack.state("lab-1")
    assert state["store"] == "redis"
    assert (state["terminal"]["cols"], state["terminal"]["rows"]) == (120, 40)
    assert state["recentResults"][0]["command"] == "ls -la"
    # It is in the server itself, not in the backend's memory.
    client = redis.Redis.from_url(redis_stack.redis_url, decode_responses=True)
    try:
        assert client.hgetall("wsbridge:session:lab-1:terminal")["cols"] == "120"
        assert "ls -la" in client.lindex("wsbridge:session:lab-1:results", 0)
    finally:
        client.close()
    # Another session's state is its own.
    assert redis_stack.state("lab-2")["terminal"] is None


def test_state_survives_a_backend_restart(redis_stack: RedisStack) -> None:
    redis_stack.send([{"type": "resize", "cols": 100, "rows": 30}], sub="carol", session="lab-2")
    before = redis_stack.state("lab-2")
    redis_stack.local.stop_service("backend")
    redis_stack.local.start_service(redis_backend_service(redis_stack.redis_url, SESSIONS))
    after = redis_stack.state("lab-2")
    assert after["terminal"] == before["terminal"]
    assert after["terminal"]["cols"] == 100
    # And the restarted backend goes on from there, over the WebSocket API.
    redis_stack.send([{"type": "command", "command": "uptime"}], sub="carol", session="lab-2")
    assert redis_stack.state("lab-2")["recentResults"][0]["command"] == "uptime"


def test_two_backend_processes_share_the_state(redis_stack: RedisStack) -> None:
    second = redis_backend_service(
        redis_stack.redis_url, SESSIONS, name="backend-2", port=redis_stack.second_backend_port
    )
    redis_stack.local.start_service(second)
    try:
        assert (
            redis_stack.local.services["backend-2"].pid != redis_stack.local.services["backend"].pid
        )
        # Written through the stack's backend (the one the handler calls)...
        redis_stack.send(
            [{"type": "resize", "cols": 90, "rows": 25}, {"type": "command", "command": "pwd"}]
        )
        shared = redis_stack.state("lab-1", backend="backend-2")
        assert shared["store"] == "redis"
        assert (shared["terminal"]["cols"], shared["terminal"]["rows"]) == (90, 25)
        assert shared["recentResults"][0]["command"] == "pwd"
        # ...and written through the second one, read back through the first.
        body = json.dumps(
            {
                "type": "resize",
                "cols": 200,
                "rows": 50,
                "connectionId": "direct",
                "sessionId": "lab-1",
                "userId": "alice",
            }
        ).encode()
        headers = {"Content-Type": "application/json", "X-Connection-Id": "direct"}
        headers.update(_signature(redis_stack, "backend-2", "/api/ws/message", body))
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
            f"{redis_stack.backend_url('backend-2')}/api/ws/message",
            data=body,
            method="POST",
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert json.loads(answer.read())["type"] == "resize_ack"
        assert redis_stack.state("lab-1")["terminal"]["cols"] == 200
    finally:
        redis_stack.local.stop_service("backend-2")
