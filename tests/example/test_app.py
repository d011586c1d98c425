"""The example app (examples/app-runner/app) under uvicorn, over real HTTP, with a real Redis
for membership, nonces, streams and request ids: it refuses every unsigned request, has no
route that changes sessions or faults, answers the three calls through the session layer
(numbered replies, each request id run once) and pushes.

Needs a redis-server (or valkey-server): without one these tests fail, saying how to install
it (wslocal.redis_service)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
import redis
import urllib3
from botocore.credentials import Credentials

from example_app.main import create_app
from example_app.settings import Settings, SettingsError
from example_app.store import ElastiCacheIAMProvider, RedisMembership, members_key
from ws_bridge_backend.idempotency import RedisRequestLedger
from ws_bridge_backend.push import PushResult
from ws_bridge_backend.replay import RedisReplayStore
from ws_bridge_backend.sessions import SessionLayer
from ws_bridge_backend.signing import sign_request
from ws_bridge_backend.stream import RedisStream
from ws_bridge_backend.verifier import RequestVerifier
from wslocal.http_server import serve_asgi
from wslocal.redis_service import local_redis

ROOT = Path(__file__).resolve().parents[2]
KEY = b"the-example-app-test-key-0123456789-abc"
IDENTITY = {"connectionId": "Kx1=", "sessionId": "lab@1", "userId": "alice"}
VALIDATE = "/api/labs/session/lab%401/validate"


class Delivery:
    """The session layer's fan-out, recorded: what went to the session's connections."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, dict[str, Any], str | None]] = []

    def to_session(self, session_id: str, frames: Any, exclude: str | None = None) -> PushResult:
        self.pushed += [(session_id, json.loads(frame), exclude) for frame in frames]
        return PushResult(sent=2 * len(frames))

    def to_connection(self, connection_id: str, frames: Any) -> None:
        raise AssertionError("no reply of this app needs chunks")


class App:
    """The app on a free port, its Redis and what it pushed."""

    def __init__(self, url: str, client: redis.Redis, delivery: Delivery) -> None:
        self.url = url
        self.redis = client
        self.delivery = delivery
        self.http = urllib3.PoolManager()

    def send(
        self, path: str, body: Any, *, key: bytes | None = KEY, **headers: str
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **headers}
        if key is not None:
            trusted = {
                k: v
                for k, v in headers.items()
                if k.lower() in ("authorization", "x-connection-id")
            }
            sent.update(sign_request(key, "POST", path, data, headers=trusted))
        response = self.http.request(
            "POST", self.url + path, body=data, headers=sent, retries=False
        )
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(response.data)
        return response.status, response.data.decode()

    def call(self, path: str, body: Any, **headers: str) -> tuple[int, Any]:
        return self.send(path, body, **{"X-Connection-Id": body["connectionId"], **headers})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def app(redis_url: str) -> Iterator[App]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.sadd(members_key("lab@1"), "alice", "bob")
    delivery = Delivery()
    verifier = RequestVerifier([KEY], replay=RedisReplayStore(client))
    layer = SessionLayer(RedisStream(client), RedisRequestLedger(client), delivery)
    starlette = create_app(verifier, RedisMembership(client), layer)
    with serve_asgi(starlette) as url:
        yield App(url, client, delivery)
    client.close()


def test_validate_answers_by_membership_in_the_store(app: App) -> None:
    assert app.call(VALIDATE, IDENTITY, Authorization="Bearer t") == (
        200,
        {"valid": True, "sessionId": "lab@1", "userId": "alice"},
    )
    mallory = {**IDENTITY, "userId": "mallory"}
    assert app.call(VALIDATE, mallory, Authorization="Bearer t")[0] == 403
    unknown = {**IDENTITY, "sessionId": "lab-9"}
    assert app.call("/api/labs/session/lab-9/validate", unknown)[0] == 404


def test_every_unsigned_request_is_401(app: App) -> None:
    for path in (VALIDATE, "/api/ws/message", "/api/ws/disconnect", "/", "/api/admin/health"):
        status, answer = app.send(path, IDENTITY, key=None, **{"X-Connection-Id": "Kx1="})
        assert (status, answer["error"]) == (401, "bad_request_signature"), path
    forged = app.send("/api/ws/message", {"type": "whoami", **IDENTITY}, key=b"f" * 40)
    assert forged[0] == 401


def test_no_route_changes_sessions_or_faults(app: App) -> None:
    # Even with a valid signature, nothing but the three calls exists.
    for path in ("/api/admin/sessions/lab-2", "/api/admin/faults", "/api/push/session/lab@1"):
        assert app.send(path, {"users": ["mallory"]})[0] == 404, path
    assert app.redis.smembers(members_key("lab-2")) == set()


def test_a_replayed_request_is_refused(app: App) -> None:
    data = json.dumps({"type": "whoami", **IDENTITY}).encode()
    headers = {
        "X-Connection-Id": "Kx1=",
        **sign_request(KEY, "POST", "/api/ws/message", data, headers={"X-Connection-Id": "Kx1="}),
    }
    first = app.http.request("POST", app.url + "/api/ws/message", body=data, headers=headers)
    again = app.http.request("POST", app.url + "/api/ws/message", body=data, headers=headers)
    assert (first.status, again.status) == (200, 401)
    assert json.loads(again.data)["reason"] == "replayed"


def test_whoami_answers_with_the_handler_s_identity(app: App) -> None:
    status, reply = app.call("/api/ws/message", {"type": "whoami", "id": "c.1", **IDENTITY})
    identity = {"userId": "alice", "sessionId": "lab@1", "connectionId": "Kx1="}
    assert (status, reply) == (200, {"seq": 1, "type": "identity", **identity, "id": "c.1"})
    # Every connection of the session gets the reply; the requester as the route's answer.
    assert app.delivery.pushed == [("lab@1", reply, "Kx1=")]
    # The same request again (resent after a reconnect): the same reply, nothing run again.
    assert app.call("/api/ws/message", {"type": "whoami", "id": "c.1", **IDENTITY})[1] == reply
    assert app.redis.get("ws-bridge:stream:{lab@1}:seq") == b"1"


def test_chat_is_pushed_to_the_session_then_acknowledged(app: App) -> None:
    chat = {"type": "chat", "text": "hé", "id": "c.2", **IDENTITY}
    status, reply = app.call("/api/ws/message", chat)
    assert (status, reply) == (200, {"seq": 2, "type": "chat_ack", "delivered": 2, "id": "c.2"})
    notice = {"seq": 1, "type": "chat", "from": "alice", "sessionId": "lab@1", "text": "hé"}
    assert app.delivery.pushed == [("lab@1", notice, None), ("lab@1", reply, "Kx1=")]
    empty = app.call("/api/ws/message", {"type": "chat", "text": "", **IDENTITY})[1]
    assert (empty["error"], empty["seq"]) == ("invalid_chat", 3)
    assert app.call("/api/ws/message", {"type": "launch", **IDENTITY})[1]["error"] == "unknown_type"


def test_disconnect_is_acknowledged(app: App) -> None:
    assert app.call("/api/ws/disconnect", {**IDENTITY, "disconnectStatusCode": 1000}) == (
        200,
        {"ok": True},
    )


def test_the_iam_token_is_a_presigned_connect_for_the_user_and_cache() -> None:
    session = botocore.session.Session()
    session._credentials = Credentials("AKIDEXAMPLE", "secret", "session-token")  # type: ignore[attr-defined]
    clock = [0.0]
    provider = ElastiCacheIAMProvider(
        "ws-backend", "ws-sessions", "eu-west-1", session=session, clock=lambda: clock[0]
    )
    user, token = provider.get_credentials()
    assert user == "ws-backend"
    url = urlsplit(f"https://{token}")
    query = parse_qs(url.query)
    assert url.hostname == "ws-sessions"
    assert (query["Action"], query["User"]) == (["connect"], ["ws-backend"])
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert query["X-Amz-Credential"][0].endswith("/eu-west-1/elasticache/aws4_request")
    assert query["X-Amz-Security-Token"] == ["session-token"]
    assert provider.get_credentials()[1] == token  # reused while fresh
    clock[0] = 601
    time.sleep(1.1)  # a new signing time
    assert provider.get_credentials()[1] != token


def test_settings_come_from_the_environment_app_runner_sets() -> None:
    env = {
        "CONNECTIONS_TABLE": "t",
        "CALLBACK_URL": "https://a.execute-api.eu-west-1.amazonaws.com/live",
        "BACKEND_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:s",
        "SIGNING_KEY_TTL_SECONDS": "30",
        "REDIS_URL": "rediss://store:6379",
        "REDIS_AUTH": "iam",
        "REDIS_USERNAME": "u",
        "REDIS_CACHE_NAME": "c",
    }
    settings = Settings.from_env(env)
    assert (settings.key_ttl_seconds, settings.redis_auth) == (30.0, "iam")
    for broken in ({"REDIS_CACHE_NAME": ""}, {"REDIS_AUTH": "password"}, {"CALLBACK_URL": ""}):
        with pytest.raises(SettingsError):
            Settings.from_env({**env, **broken})


def test_the_image_installs_what_the_repository_pins() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines()
        if "==" in line
    )
    app_requirements = ROOT / "examples" / "app-runner" / "app" / "requirements.txt"
    for line in app_requirements.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins.get(name) == version, name
