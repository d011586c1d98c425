"""The handler signs its backend requests and the reference backend refuses every other
request to the contract endpoints: unsigned, wrongly signed, stale or replayed, each sent
straight to the backend's port, answer 401; a session through the deployed stack still works,
which proves that the deployed handler signs.

Needs the handler's signing (``ws_bridge.request_signing`` and ``BACKEND_SIGNING_SECRET_ARN``
in the shipped ``packages/ws_bridge.zip``) and the Terraform output
``backend_signing_secret_arn`` of examples/local, which the stack passes to the reference
backend as ``--signing-secret-arn``. Until both are in the tree the tests skip, saying which
is missing.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from stack_support import StackHandle
from websockets.sync.client import connect

pytestmark = pytest.mark.integration

signing: Any = pytest.importorskip(
    "ws_bridge.request_signing",
    reason="needs ws_bridge.request_signing (the handler's request signing)",
)

MESSAGE_PATH = "/api/ws/message"
DISCONNECT_PATH = "/api/ws/disconnect"


@pytest.fixture
def signed(healthy_backend: StackHandle) -> tuple[StackHandle, bytes]:
    """The stack and the HMAC key the handler signs with (read from Secrets Manager)."""
    arn = healthy_backend.local.outputs.backend_signing_secret_arn
    if arn is None:
        pytest.skip("needs the Terraform output backend_signing_secret_arn of examples/local")
    answer = healthy_backend.local.client("secretsmanager").get_secret_value(SecretId=arn)
    return healthy_backend, str(answer["SecretString"]).encode()


def send(
    stack: StackHandle, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """One request straight to the backend's port: (status, JSON answer)."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{stack.backend_url}{path}",
        data=body if method != "GET" else None,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def message_body(connection_id: str = "straight-to-the-backend") -> bytes:
    return json.dumps(
        {"type": "command", "command": "id", "connectionId": connection_id, "userId": "mallory"}
    ).encode()


def counts(stack: StackHandle) -> dict[str, Any]:
    answer: dict[str, Any] = stack.backend("GET", "/api/admin/signatures")
    return answer


def test_the_backend_checks_signatures(signed: tuple[StackHandle, bytes]) -> None:
    stack, _ = signed
    assert counts(stack)["signing"] is True


def test_unsigned_requests_are_401_and_not_handled(signed: tuple[StackHandle, bytes]) -> None:
    stack, _ = signed
    before = len(stack.backend("GET", "/api/admin/messages")["messages"])
    validate = "/api/labs/session/lab-1/validate"
    bearer = {"Authorization": f"Bearer {stack.token()}"}
    assert send(stack, "GET", validate, b"", bearer)[0] == 401
    headers = {"X-Connection-Id": "straight-to-the-backend"}
    status, answer = send(stack, "POST", MESSAGE_PATH, message_body(), headers)
    assert (status, answer["error"]) == (401, "bad_request_signature")
    notice = json.dumps({"connectionId": "straight-to-the-backend"}).encode()
    assert send(stack, "POST", DISCONNECT_PATH, notice, {})[0] == 401
    assert len(stack.backend("GET", "/api/admin/messages")["messages"]) == before
    disconnects = stack.backend("GET", "/api/admin/disconnects")["disconnects"]
    assert all(d["connectionId"] != "straight-to-the-backend" for d in disconnects)


def test_a_correct_signature_is_accepted_so_the_refusals_mean_something(
    signed: tuple[StackHandle, bytes],
) -> None:
    stack, key = signed
    body = message_body()
    headers = signing.sign_request(key, "POST", MESSAGE_PATH, body)
    headers["X-Connection-Id"] = "straight-to-the-backend"
    status, answer = send(stack, "POST", MESSAGE_PATH, body, headers)
    assert (status, answer["type"]) == (200, "command_result")


def test_a_wrong_signature_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    body = message_body()
    wrong_key = signing.sign_request(
        b"not-the-key-not-the-key-not-the-key", "POST", MESSAGE_PATH, body
    )
    other_body = signing.sign_request(key, "POST", MESSAGE_PATH, message_body("another"))
    other_path = signing.sign_request(key, "POST", DISCONNECT_PATH, body)
    for headers in (wrong_key, other_body, other_path):
        headers["X-Connection-Id"] = "straight-to-the-backend"
        assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401


def test_a_stale_request_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    before = counts(stack)["refused"].get("stale", 0)
    body = message_body()
    headers = signing.sign_request(key, "POST", MESSAGE_PATH, body, now=time.time() - 301)
    headers["X-Connection-Id"] = "straight-to-the-backend"
    assert send(stack, "POST", MESSAGE_PATH, body, headers)[0] == 401
    assert counts(stack)["refused"].get("stale", 0) == before + 1


def test_a_replayed_request_is_401(signed: tuple[StackHandle, bytes]) -> None:
    stack, key = signed
    before = counts(stack)["refused"].get("replayed", 0)
    body = message_body()
    headers = signing.sign_request(key, "POST", MESSAGE_PATH, body)
    headers["X-Connection-Id"] = "straight-to-the-backend"
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
