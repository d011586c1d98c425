"""The handler signs its backend requests (v2, over X-Connection-Id and Authorization) and the
reference backend, on the backend SDK, refuses every other request to the contract
endpoints: unsigned, wrongly signed, stale, replayed or with an unsigned trusted header, each
sent straight to the backend's port, answer 401; a session through the deployed stack still
works, which proves that the deployed handler signs; and a backend that refuses the
handler's signature reaches the client as a server-side fault (502), with the reason in the
handler's log.

Needs the Terraform output ``backend_signing_secret_arn`` of examples/local (request signing
is on by default there): without it the fixture fails, saying so.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stack_support import SESSIONS, StackHandle, StackLogs
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ws_bridge_backend.signing import sign_request
from wslocal.stack import Service, StackInfo, backend_service

pytestmark = pytest.mark.integration

MESSAGE_PATH = "/api/ws/message"
DISCONNECT_PATH = "/api/ws/disconnect"
VALIDATE_PATH = "/api/labs/session/lab-1/validate"


@pytest.fixture
def signed(healthy_backend: StackHandle) -> tuple[StackHandle, bytes]:
    """The stack and the HMAC key the handler signs with (read from Secrets Manager)."""
    arn = healthy_backend.local.outputs.backend_signing_secret_arn
    assert arn, "examples/local must output backend_signing_secret_arn (request signing on)"
    answer = healthy_backend.local.client("secretsmanager").get_secret_value(SecretId=arn)
    return healthy_backend, str(answer["SecretString"]).encode()


def send(
    stack: StackHandle, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """One request straight to the backend's port: (status, JSON answer)."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{stack.backend_url}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


IDS = {"connectionId": "straight-to-the-backend", "sessionId": "lab-1", "userId": "mallory"}


def message_body(**ids: str) -> bytes:
    return json.dumps({"type": "command", "command": "id", **IDS, **ids}).encode()


def signed_headers(key: bytes, path: str, body: bytes, **options: Any) -> dict[str, str]:
    trusted = {"X-Connection-Id": json.loads(body)["connectionId"]}
    return {**trusted, **sign_request(key, "POST", path, body, headers=trusted, **options)}


def counts(stack: StackHandle) -> dict[str, Any]:
    answer: dict[str, Any] = stack.backend("GET", "/api/admin/signatures")
    return answer


def test_the_backend_checks_signatures(signed: tuple[StackHandle, bytes]) -> None:
    stack, _ = signed
    assert counts(stack)["signing"] is True


def test_unsigned_requests_are_401_and_not_handled(signed: tuple[StackHandle, bytes]) -> None:
    stack, _ = signed
    before = len(stack.backend("GET", "/api/admin/messages")["messages"])
    identity = json.dumps({**IDS, "userId": "alice"}).encode()
    headers = {"X-Connection-Id": IDS["connectionId"], "Authorization": f"Bearer {stack.token()}"}
    assert send(stack, "POST", VALIDATE_PATH, identity, headers)[0] == 401
    status, answer = send(stack, "POST", MESSAGE_PATH, message_body(), headers)
    assert (status, answer["error"]) == (401, "bad_request_signature")
    assert send(stack, "POST", DISCONNECT_PATH, json.dumps(IDS).encode(), headers)[0] == 401
    assert len(stack.backend("GET", "/api/admin/messages")["messages"]) == before
    disconnects = stack.backend("GET", "/api/admin/disconnects")["disconnects"]
    assert all(d["connectionId"] != IDS["connectionId"] for d in disconnects)


def test_a_correct_signature_is_accepted_so_the_refusals_mean_something(
    signed: tuple[StackHandle, bytes],
) -> None:
    stack, key = signed
    body = message_body()
    status, answer = send(
        stack, "POST", MESSAGE_PATH, body, signed_headers(key, MESSAGE_PATH, body)
    )
    assert (status, answer["type"]) == (200, "command_result")


def test_a_wrong_signature_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    body = message_body()
    wrong_key = signed_headers(b"not-the-key-not-the-key-not-the-key", MESSAGE_PATH, body)
    other_body = signed_headers(key, MESSAGE_PATH, message_body(userId="alice"))
    other_path = signed_headers(key, DISCONNECT_PATH, body)
    other_connection = {**signed_headers(key, MESSAGE_PATH, body), "X-Connection-Id": "another"}
    for headers in (wrong_key, other_body, other_path, other_connection):
        assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401


def test_an_unsigned_trusted_header_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    before = counts(stack)["refused"].get("unsigned_header", 0)
    body = message_body()
    headers = {**signed_headers(key, MESSAGE_PATH, body), "Authorization": "Bearer smuggled"}
    assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401
    assert counts(stack)["refused"].get("unsigned_header", 0) == before + 1


def test_a_stale_request_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    before = counts(stack)["refused"].get("stale", 0)
    body = message_body()
    headers = signed_headers(key, MESSAGE_PATH, body, now=time.time() - 301)
    assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401
    assert counts(stack)["refused"].get("stale", 0) == before + 1


def test_a_replayed_request_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    before = counts(stack)["refused"].get("replayed", 0)
    body = message_body()
    headers = signed_headers(key, MESSAGE_PATH, body)
    assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 200
    assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401
    assert counts(stack)["refused"].get("replayed", 0) == before + 1


def test_a_session_through_the_deployed_stack_is_signed_by_the_handler(
    signed: tuple[StackHandle, bytes],
) -> None:
    stack, _ = signed
    before = counts(stack)
    with connect(stack.url(stack.token()), open_timeout=20) as ws:  # validate
        ws.send(json.dumps({"type": "command", "command": "ls"}))  # message
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "command_result"
    # disconnect is asynchronous: wait for its (signed) notice
    deadline = time.monotonic() + 10
    while counts(stack)["verified"] < before["verified"] + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    after = counts(stack)
    assert after["verified"] - before["verified"] == 3
    assert after["refused"] == before["refused"]


@pytest.fixture
def backend_with_another_key(stack: StackHandle) -> Iterator[StackHandle]:
    """The reference backend restarted with a signing secret the handler does not use (and
    without the backend role, which may read only the module's secret); restored after."""
    client = stack.local.client("secretsmanager")
    other = client.create_secret(Name=f"other-{time.time_ns()}", SecretString="x" * 64)["ARN"]
    base = backend_service(SESSIONS)

    def argv(info: StackInfo) -> list[str]:
        command = list(base.argv(info))
        command[command.index("--signing-secret-arn") + 1] = other
        if "--role-arn" in command:
            at = command.index("--role-arn")
            del command[at : at + 2]
        return command

    stack.local.stop_service("backend")
    stack.local.start_service(Service("backend", argv, base.port))
    try:
        yield stack
    finally:
        stack.local.stop_service("backend")
        stack.local.start_service(backend_service(SESSIONS))


def test_a_backend_refusing_the_signature_is_a_server_fault_with_its_reason_logged(
    backend_with_another_key: StackHandle, stack_logs: StackLogs
) -> None:
    stack = backend_with_another_key
    mark = stack_logs.mark()
    with pytest.raises(InvalidStatus) as refused:
        connect(stack.url(stack.token()), open_timeout=20)
    assert refused.value.response.status_code == 502
    assert b"backend_signature_refused" in (refused.value.response.body or b"")
    gateway = stack_logs.since(mark).get("gateway.log", "")
    lines = []
    for line in gateway.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    errors = [
        line
        for line in lines
        if line.get("level") == "ERROR"
        and "refused the handler's request signature" in line.get("message", "")
    ]
    assert errors, "the handler must say at ERROR why the connect failed"
    assert "BACKEND_SIGNING_SECRET_ARN" in errors[0]["message"]
