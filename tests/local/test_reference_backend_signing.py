"""The reference backend on the backend SDK: every contract call verified with the handler's
signature (the raw path as sent), its admin routes behind the Host guard, and its command
line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from local_support import BackendFactory

from ws_bridge_backend.calls import BridgeGate
from ws_bridge_backend.signing import sign_request
from ws_bridge_backend.verifier import RequestVerifier
from wslocal.reference_backend import Backend
from wslocal.reference_backend.aws import signing_gate

ROOT = Path(__file__).resolve().parents[2]
KEY = b"a-signing-key-of-the-handler-0123456789"
OLD_KEY = b"the-previous-signing-key-0123456789-abc"
VALIDATE = "/api/labs/session/lab%3A1%40x/validate"
IDENTITY = {"connectionId": "c-1", "sessionId": "lab:1@x", "userId": "alice"}


def signed_backend(*keys: bytes) -> Backend:
    gate = BridgeGate(RequestVerifier(list(keys or (KEY,))))
    return Backend(sessions=[("lab:1@x", "alice")], gate=gate)


def call(
    backend: Backend, path: str, body: Any, *, key: bytes | None = KEY, **headers: str
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode()
    sent = {"X-Connection-Id": "c-1", **headers}
    if key is not None:
        sent.update(sign_request(key, "POST", path, data, headers=sent))
    _, reply = backend.handle("POST", path, sent, data)
    return reply.status, json.loads(reply.body)


def counts(backend: Backend) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(
        backend.handle("GET", "/api/admin/signatures", {}, b"")[1].body
    )
    return answer


def test_every_contract_call_is_verified_over_the_raw_path_as_signed() -> None:
    backend = signed_backend()
    assert call(backend, VALIDATE, IDENTITY, Authorization="Bearer t")[0] == 200
    status, reply = call(backend, "/api/ws/message", {"type": "ping", **IDENTITY})
    assert (status, reply["type"]) == (200, "pong")
    assert call(backend, "/api/ws/disconnect", IDENTITY)[0] == 200
    assert counts(backend) == {"signing": True, "verified": 3, "refused": {}}


@pytest.mark.parametrize(
    ("key", "headers", "reason"),
    [
        (None, {}, "missing_headers"),
        (b"someone-else-s-key-0123456789-0123456789", {}, "bad_signature"),
    ],
    ids=["unsigned", "wrong-key"],
)
def test_a_refused_signature_is_401_before_anything_is_handled(
    key: bytes | None, headers: dict[str, str], reason: str
) -> None:
    backend = signed_backend()
    for path, body in (
        (VALIDATE, IDENTITY),
        ("/api/ws/message", {"type": "ping", **IDENTITY}),
        ("/api/ws/disconnect", IDENTITY),
    ):
        status, reply = call(backend, path, body, key=key, **headers)
        assert (status, reply["error"]) == (401, "bad_request_signature")
    for path, field in (
        ("/api/admin/messages", "messages"),
        ("/api/admin/disconnects", "disconnects"),
    ):
        assert json.loads(backend.handle("GET", path, {}, b"")[1].body)[field] == []
    assert counts(backend) == {"signing": True, "verified": 0, "refused": {reason: 3}}


def test_an_unsigned_trusted_header_and_a_replay_are_refused() -> None:
    backend = signed_backend()
    data = json.dumps(IDENTITY).encode()
    signed = sign_request(KEY, "POST", VALIDATE, data, headers={"X-Connection-Id": "c-1"})
    smuggled = {**signed, "X-Connection-Id": "c-1", "Authorization": "Bearer forged"}
    assert backend.handle("POST", VALIDATE, smuggled, data)[1].status == 401
    good = {**signed, "X-Connection-Id": "c-1"}
    assert backend.handle("POST", VALIDATE, good, data)[1].status == 200
    assert backend.handle("POST", VALIDATE, good, data)[1].status == 401
    assert counts(backend)["refused"] == {"unsigned_header": 1, "replayed": 1}


def test_admin_and_push_routes_need_no_handler_signature() -> None:
    backend = signed_backend()
    assert backend.handle("GET", "/api/admin/health", {}, b"")[1].status == 200
    assert backend.handle("POST", "/api/push/session/lab%3A1%40x", {}, b"{}")[1].status == 503


def test_the_gate_reads_the_secret_s_current_and_previous_keys(aws_env: None) -> None:
    from moto import mock_aws

    with mock_aws():
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="ws/sign", SecretString=OLD_KEY.decode())["ARN"]
        secrets.put_secret_value(SecretId=arn, SecretString=KEY.decode())
        backend = Backend(sessions=[("lab:1@x", "alice")], gate=signing_gate(arn))
    for key in (KEY, OLD_KEY):
        assert call(backend, "/api/ws/message", {"type": "ping", **IDENTITY}, key=key)[0] == 200


def test_without_a_gate_calls_are_not_checked(start_backend: BackendFactory) -> None:
    handle = start_backend()
    ids = {"connectionId": "conn-1", "sessionId": "lab-1", "userId": "alice"}
    assert handle.message({"type": "ping", **ids}).status == 200
    answer = json.loads(handle.request("GET", "/api/admin/signatures").data)
    assert answer == {"signing": False, "verified": 0, "refused": {}}


def test_a_foreign_host_header_is_refused(start_backend: BackendFactory) -> None:
    handle = start_backend()
    http = urllib3.PoolManager()
    port = handle.server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        response = http.request("GET", f"{handle.url}/api/admin/sessions", headers={"Host": host})
        assert response.status == 200, host
    rebound = http.request(
        "GET", f"{handle.url}/api/admin/sessions", headers={"Host": f"attacker.example:{port}"}
    )
    assert rebound.status == 421
    assert b"lab-1" not in rebound.data


def test_the_process_prints_ready_serves_and_stops_on_sigterm() -> None:
    paths = [ROOT / "lambda", ROOT / "local", ROOT / "sdk" / "python" / "src"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    # The token flags of earlier versions are still accepted (and change nothing).
    argv = [sys.executable, "-m", "wslocal.reference_backend", "--port", "0"]
    argv += ["--session", "lab-1:alice", "--jwt-secret", "ignored", "--jwks-url", "https://x/"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        assert ready.startswith("backend ready http://127.0.0.1:")
        url = ready.removeprefix("backend ready ")
        identity = {"connectionId": "c", "sessionId": "lab-1", "userId": "alice"}
        response = urllib3.PoolManager().request(
            "POST",
            f"{url}/api/labs/session/lab-1/validate",
            body=json.dumps(identity).encode(),
            headers={"X-Connection-Id": "c", "Authorization": "Bearer secret-token-value"},
            retries=False,
        )
        assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    logs = process.stderr.read()
    assert '"route": "/api/labs/session/{sessionId}/validate"' in logs
    assert "secret-token-value" not in logs
