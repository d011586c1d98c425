"""The reference backend over real HTTP on 127.0.0.1: the backend contract, push, faults, logs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import urllib3
from local_support import SECRET, BackendFactory, BackendHandle, Mint

from ws_bridge.logs import JsonFormatter
from wslocal.devtoken import TokenCheck, mint_token
from wslocal.reference_backend import (
    COLS_RANGE,
    ROWS_RANGE,
    Backend,
    PushOutcome,
    parse_fault,
    parse_session_flag,
)

IDS = {"connectionId": "conn-1", "sessionId": "lab-1", "userId": "alice"}


def body(response: urllib3.BaseHTTPResponse) -> Any:
    return json.loads(response.data)


# -- session validation ------------------------------------------------------------------------


def test_a_member_with_a_valid_token_is_accepted(backend: BackendHandle, mint: Mint) -> None:
    response = backend.validate("lab-1", mint(sub="bob", session_id="lab-1"))
    assert response.status == 200
    assert body(response) == {"valid": True, "sessionId": "lab-1", "userId": "bob"}


def test_a_token_without_a_session_claim_is_checked_against_the_path(
    backend: BackendHandle, mint: Mint
) -> None:
    assert backend.validate("lab-1", mint(sub="alice", session_id=None)).status == 200
    assert backend.validate("lab-2", mint(sub="alice", session_id=None)).status == 403


def test_no_token_is_401(backend: BackendHandle) -> None:
    assert backend.validate("lab-1", None).status == 401
    response = backend.request(
        "GET", "/api/labs/session/lab-1/validate", headers={"Authorization": "Basic YWxpY2U6eA=="}
    )
    assert response.status == 401


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda m: jwt.encode(
                {"sub": "alice", "sessionId": "lab-1", "exp": int(time.time()) + 60},
                "another-secret-that-signs-forged-tokens-0123",
                algorithm="HS256",
            ),
            id="wrong-secret",
        ),
        pytest.param(
            lambda m: jwt.encode(
                {"sub": "alice", "sessionId": "lab-1", "exp": int(time.time()) + 60},
                "",
                algorithm="none",
            ),
            id="alg-none",
        ),
        pytest.param(lambda m: m(now=int(time.time()) - 7200, ttl_seconds=60), id="expired"),
        pytest.param(lambda m: m(extra_claims={"sub": ""}), id="empty-sub"),
        pytest.param(lambda m: m()[:-4] + "AAAA", id="bad-signature"),
        pytest.param(lambda m: "not.a.jwt", id="garbage"),
    ],
)
def test_an_invalid_token_is_401(backend: BackendHandle, mint: Mint, forge: Any) -> None:
    response = backend.validate("lab-1", forge(mint))
    assert response.status == 401
    assert body(response)["error"] == "unauthorized"


def test_an_unknown_session_is_404(backend: BackendHandle, mint: Mint) -> None:
    response = backend.validate("lab-9", mint(session_id="lab-9"))
    assert response.status == 404
    assert body(response)["error"] == "unknown_session"


def test_a_user_outside_the_session_is_403(backend: BackendHandle, mint: Mint) -> None:
    assert backend.validate("lab-2", mint(sub="alice", session_id="lab-2")).status == 403


def test_a_token_for_another_session_is_403(backend: BackendHandle, mint: Mint) -> None:
    # alice is a member of lab-1, but this token was issued for lab-2.
    assert backend.validate("lab-1", mint(sub="alice", session_id="lab-2")).status == 403


def test_issuer_and_audience_are_enforced_when_configured(
    start_backend: BackendFactory, mint: Mint
) -> None:
    backend = start_backend(issuer="https://issuer.test", audience="labs")
    good = mint(issuer="https://issuer.test", audience="labs")
    assert backend.validate("lab-1", good).status == 200
    assert (
        backend.validate("lab-1", mint(issuer="https://evil.test", audience="labs")).status == 401
    )
    assert backend.validate("lab-1", mint(issuer="https://issuer.test")).status == 401


def test_the_session_id_is_url_decoded(backend: BackendHandle, mint: Mint) -> None:
    # A session id the authorizer accepts (no "/" or spaces) may still hold characters that
    # a client percent-encodes in the path.
    created = backend.request("PUT", "/api/admin/sessions/a%3Ab%40c", body={"users": ["dave"]})
    assert created.status == 200
    assert body(created)["sessionId"] == "a:b@c"
    assert backend.validate("a%3Ab%40c", mint(sub="dave", session_id="a:b@c")).status == 200


def test_sessions_are_managed_through_the_admin_endpoint(
    backend: BackendHandle, mint: Mint
) -> None:
    assert body(backend.request("GET", "/api/admin/sessions"))["sessions"] == {
        "lab-1": ["alice", "bob"],
        "lab-2": ["carol"],
    }
    dave = mint(sub="dave", session_id="lab-3")
    assert backend.validate("lab-3", dave).status == 404
    assert (
        backend.request("PUT", "/api/admin/sessions/lab-3", body={"users": ["dave"]}).status == 200
    )
    assert backend.validate("lab-3", dave).status == 200
    assert backend.request("PUT", "/api/admin/sessions/lab-3", body={"users": []}).status == 400
    assert backend.request("DELETE", "/api/admin/sessions/lab-3").status == 200
    assert backend.validate("lab-3", dave).status == 404
    assert backend.request("DELETE", "/api/admin/sessions/lab-3").status == 404


def test_parse_session_flag() -> None:
    assert parse_session_flag("lab-1:alice") == ("lab-1", "alice")
    assert parse_session_flag("a:b:c") == ("a", "b:c")
    for bad in ("lab-1", ":alice", "lab-1:", ""):
        with pytest.raises(ValueError, match="SESSION_ID:USER_ID"):
            parse_session_flag(bad)


# -- messages ----------------------------------------------------------------------------------


def test_ping_answers_pong_with_the_handler_ids(backend: BackendHandle) -> None:
    response = backend.message({"type": "ping", **IDS})
    assert response.status == 200
    reply = body(response)
    assert reply["type"] == "pong"
    assert {k: reply[k] for k in IDS} == IDS
    assert abs(reply["timestamp"] - time.time() * 1000) < 60_000


def test_the_reply_carries_the_ids_the_handler_set(backend: BackendHandle) -> None:
    ids = {"connectionId": "Zm9vYmFy=", "sessionId": "lab-2", "userId": "carol"}
    reply = body(backend.message({"type": "ping", **ids}, connection_id="Zm9vYmFy="))
    assert {k: reply[k] for k in ids} == ids


@pytest.mark.parametrize(
    "command",
    [
        "touch {dir}/created",
        "$(touch {dir}/created)",
        "true; touch {dir}/created",
        "`touch {dir}/c`",
    ],
)
def test_command_echoes_and_executes_nothing(
    backend: BackendHandle, tmp_path: Path, command: str
) -> None:
    text = command.format(dir=tmp_path)
    response = backend.message({"type": "command", "command": text, **IDS})
    assert response.status == 200
    reply = body(response)
    assert reply["type"] == "command_result"
    assert reply["command"] == text
    assert reply["result"] == {"output": text, "exitCode": 0, "executed": False}
    assert {k: reply[k] for k in IDS} == IDS
    assert list(tmp_path.iterdir()) == []


def test_command_must_be_a_string(backend: BackendHandle) -> None:
    response = backend.message({"type": "command", "command": ["rm", "-rf", "/"], **IDS})
    assert response.status == 400
    assert body(response)["error"] == "invalid_command"


def test_resize_acknowledges_valid_sizes(backend: BackendHandle) -> None:
    for cols, rows in [(80, 24), (COLS_RANGE[0], ROWS_RANGE[0]), (COLS_RANGE[1], ROWS_RANGE[1])]:
        reply = body(backend.message({"type": "resize", "cols": cols, "rows": rows, **IDS}))
        assert (reply["type"], reply["cols"], reply["rows"]) == ("resize_ack", cols, rows)


@pytest.mark.parametrize(
    "size",
    [
        {"cols": 0, "rows": 24},
        {"cols": 80, "rows": ROWS_RANGE[1] + 1},
        {"cols": COLS_RANGE[1] + 1, "rows": 24},
        {"cols": -80, "rows": 24},
        {"cols": "80", "rows": 24},
        {"cols": 80.5, "rows": 24},
        {"cols": True, "rows": 24},
        {"cols": None, "rows": 24},
        {"rows": 24},
        {"cols": 80},
    ],
)
def test_resize_rejects_invalid_sizes(backend: BackendHandle, size: dict[str, Any]) -> None:
    response = backend.message({"type": "resize", **size, **IDS})
    assert response.status == 400
    reply = body(response)
    assert (reply["type"], reply["error"]) == ("error", "invalid_resize")
    assert reply["connectionId"] == "conn-1"


@pytest.mark.parametrize("kind", ["launch", "", None, 7, "PING"])
def test_unknown_types_are_400(backend: BackendHandle, kind: Any) -> None:
    message = {**IDS} if kind is None else {"type": kind, **IDS}
    response = backend.message(message)
    assert response.status == 400
    reply = body(response)
    assert (reply["type"], reply["error"]) == ("error", "unknown_type")
    assert {k: reply[k] for k in IDS} == IDS


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"{not json", "invalid_json"), (b"\xff\xfe", "invalid_json"), (b"[1, 2]", "not_an_object")],
)
def test_a_body_that_is_not_an_object_is_400(backend: BackendHandle, raw: bytes, code: str) -> None:
    response = backend.request(
        "POST", "/api/ws/message", raw=raw, headers={"X-Connection-Id": "conn-1"}
    )
    assert response.status == 400
    assert body(response)["error"] == code


def test_the_connection_id_header_is_required_and_must_match(backend: BackendHandle) -> None:
    missing = backend.request("POST", "/api/ws/message", body={"type": "ping", **IDS})
    assert missing.status == 400
    assert body(missing)["error"] == "missing_connection_id"
    mismatch = backend.message({"type": "ping", **IDS}, connection_id="someone-else")
    assert mismatch.status == 400
    assert body(mismatch)["error"] == "connection_id_mismatch"


def test_message_metadata_is_kept_without_content(backend: BackendHandle) -> None:
    backend.message({"type": "command", "command": "cat /etc/very-secret-file", **IDS})
    backend.message({"type": "ping", **IDS})
    backend.message({"type": "very-secret-type", **IDS})
    log = body(backend.request("GET", "/api/admin/messages"))["messages"]
    assert [(m["type"], m["connectionId"], m["userId"]) for m in log] == [
        ("command", "conn-1", "alice"),
        ("ping", "conn-1", "alice"),
        ("other", "conn-1", "alice"),
    ]
    assert "very-secret" not in json.dumps(log)


def test_wrong_methods_and_paths(backend: BackendHandle) -> None:
    assert backend.request("GET", "/api/ws/message").status == 405
    assert backend.request("POST", "/api/labs/session/lab-1/validate").status == 405
    assert backend.request("GET", "/nothing-here").status == 404


def test_oversized_requests_are_refused(backend: BackendHandle) -> None:
    response = backend.request(
        "POST", "/api/ws/message", raw=b"x" * (1024 * 1024 + 1), headers={"X-Connection-Id": "c"}
    )
    assert response.status == 413


# -- disconnect --------------------------------------------------------------------------------


def test_disconnect_notices_are_recorded(backend: BackendHandle) -> None:
    notice = {**IDS, "disconnectStatusCode": 1001, "disconnectReason": "Going away"}
    response = backend.request("POST", "/api/ws/disconnect", body=notice)
    assert response.status == 200
    recorded = body(backend.request("GET", "/api/admin/disconnects"))["disconnects"]
    assert len(recorded) == 1
    assert {k: recorded[0][k] for k in notice} == notice
    assert backend.request("POST", "/api/ws/disconnect", body={"sessionId": "x"}).status == 400
    assert backend.request("POST", "/api/admin/reset").status == 200
    assert body(backend.request("GET", "/api/admin/disconnects"))["disconnects"] == []


# -- push (HTTP layer, with a recording pusher) -------------------------------------------------


class RecordingPusher:
    def __init__(self, outcome: PushOutcome | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, bytes]] = []

    def __call__(self, session_id: str, data: bytes) -> PushOutcome:
        self.calls.append((session_id, data))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_push_forwards_the_body_and_reports_counts(start_backend: BackendFactory) -> None:
    pusher = RecordingPusher(PushOutcome(sent=2, gone=1))
    backend = start_backend(pusher=pusher)
    raw = b'{"type":"notice","text":"h\xc3\xa9"}'
    response = backend.request("POST", "/api/push/session/lab-1", raw=raw)
    assert response.status == 200
    assert body(response) == {"sent": 2, "gone": 1, "failed": 0}
    assert pusher.calls == [("lab-1", raw)]


def test_push_refusals(start_backend: BackendFactory) -> None:
    pusher = RecordingPusher(PushOutcome(sent=0, gone=0))
    backend = start_backend(pusher=pusher)
    assert backend.request("POST", "/api/push/session/lab-9", body={"a": 1}).status == 404
    assert backend.request("POST", "/api/push/session/lab-1", raw=b"{nope").status == 400
    big = json.dumps({"text": "x" * (128 * 1024)}).encode()
    assert backend.request("POST", "/api/push/session/lab-1", raw=big).status == 413
    assert pusher.calls == []


def test_push_without_a_table_is_503(backend: BackendHandle) -> None:
    response = backend.request("POST", "/api/push/session/lab-1", body={"a": 1})
    assert response.status == 503
    assert body(response)["error"] == "push_unavailable"


def test_a_failing_push_is_502(start_backend: BackendFactory) -> None:
    backend = start_backend(pusher=RecordingPusher(RuntimeError("DynamoDB is down")))
    response = backend.request("POST", "/api/push/session/lab-1", body={"a": 1})
    assert response.status == 502
    assert body(response)["error"] == "push_failed"


# -- faults ------------------------------------------------------------------------------------


def set_fault(backend: BackendHandle, **fault: Any) -> None:
    response = backend.request("POST", "/api/admin/faults", body=fault)
    assert response.status == 200, response.data


def contract_calls(backend: BackendHandle, token: str) -> dict[str, urllib3.BaseHTTPResponse]:
    return {
        "validate": backend.validate("lab-1", token),
        "message": backend.message({"type": "ping", **IDS}),
        "disconnect": backend.request("POST", "/api/ws/disconnect", body=IDS),
    }


def test_fault_error_5xx(backend: BackendHandle, mint: Mint) -> None:
    set_fault(backend, mode="error_5xx", status=503)
    for name, response in contract_calls(backend, mint()).items():
        assert response.status == 503, name
        assert body(response)["error"] == "fault_injected"


def test_fault_invalid_json(backend: BackendHandle, mint: Mint) -> None:
    set_fault(backend, mode="invalid_json")
    for name, response in contract_calls(backend, mint()).items():
        assert response.status == 200, name
        assert response.headers["Content-Type"] == "application/json"
        with pytest.raises(ValueError, match="Expecting"):
            json.loads(response.data)


def test_fault_slow_delays_then_answers(backend: BackendHandle, mint: Mint) -> None:
    set_fault(backend, mode="slow", delay_seconds=0.4, endpoints=["message"])
    started = time.monotonic()
    response = backend.message({"type": "ping", **IDS})
    assert time.monotonic() - started >= 0.4
    assert body(response)["type"] == "pong"
    started = time.monotonic()
    assert backend.validate("lab-1", mint()).status == 200
    assert time.monotonic() - started < 0.4


def test_fault_down_drops_the_connection(backend: BackendHandle, mint: Mint) -> None:
    set_fault(backend, mode="down", endpoints=["validate", "message"])
    with pytest.raises(urllib3.exceptions.ProtocolError):
        backend.validate("lab-1", mint())
    with pytest.raises(urllib3.exceptions.ProtocolError):
        backend.message({"type": "ping", **IDS})
    # Endpoints left out of the fault, and the admin API, still answer.
    assert backend.request("POST", "/api/ws/disconnect", body=IDS).status == 200
    assert body(backend.request("GET", "/api/admin/faults"))["mode"] == "down"
    set_fault(backend, mode="none")
    assert backend.validate("lab-1", mint()).status == 200


def test_reset_clears_the_fault(backend: BackendHandle) -> None:
    set_fault(backend, mode="error_5xx")
    assert backend.message({"type": "ping", **IDS}).status == 500
    backend.request("POST", "/api/admin/reset")
    assert backend.message({"type": "ping", **IDS}).status == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "explode"},
        {"mode": "slow", "delay_seconds": -1},
        {"mode": "slow", "delay_seconds": "1"},
        {"mode": "slow", "delay_seconds": 10_000},
        {"mode": "error_5xx", "status": 404},
        {"mode": "error_5xx", "status": True},
        {"mode": "down", "endpoints": []},
        {"mode": "down", "endpoints": ["push"]},
        ["down"],
    ],
)
def test_invalid_faults_are_refused(backend: BackendHandle, fault: Any) -> None:
    response = backend.request("POST", "/api/admin/faults", body=fault)
    assert response.status == 400
    assert body(backend.request("GET", "/api/admin/faults"))["mode"] == "none"


def test_parse_fault_defaults_to_every_contract_endpoint() -> None:
    fault = parse_fault({"mode": "slow", "delay_seconds": 2})
    assert fault.as_dict() == {
        "mode": "slow",
        "delay_seconds": 2.0,
        "status": 500,
        "endpoints": ["disconnect", "message", "validate"],
    }


# -- logs --------------------------------------------------------------------------------------


def test_logs_hold_no_token_no_header_and_no_body(
    start_backend: BackendFactory, mint: Mint, caplog: pytest.LogCaptureFixture
) -> None:
    backend = start_backend(pusher=RecordingPusher(PushOutcome(sent=1, gone=0)))
    token = mint()
    marker = "payload-marker-7f3a"
    with caplog.at_level(logging.DEBUG, logger="wslocal.reference_backend"):
        assert backend.validate("lab-1", token).status == 200
        assert backend.validate("lab-1", token + "x").status == 401
        backend.message({"type": "command", "command": f"echo {marker}", **IDS})
        backend.message({"type": marker, **IDS})
        backend.request("POST", "/api/push/session/lab-1", body={"text": marker})
        backend.request("POST", f"/api/ws/message?token={token}", body={"x": marker})
        backend.request("POST", "/api/ws/disconnect", body={**IDS, "disconnectReason": marker})
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert len(lines) >= 7
    text = "\n".join(lines)
    for secret in (token, token.split(".")[1], token.split(".")[2], marker):
        assert secret not in text
    requests = [json.loads(line) for line in lines if json.loads(line)["message"] == "request"]
    assert {r["route"] for r in requests} >= {
        "/api/labs/session/{sessionId}/validate",
        "/api/ws/message",
        "/api/ws/disconnect",
        "/api/push/session/{sessionId}",
    }
    assert all(isinstance(r["status"], int) for r in requests)
    assert [r["status"] for r in requests if r["route"].endswith("/validate")] == [200, 401]


# -- who refused: the validate calls the backend received ------------------------------------


def test_validate_calls_are_listed_with_their_outcome_and_no_token(
    backend: BackendHandle, mint: Mint
) -> None:
    token = mint()
    assert backend.validate("lab-1", token).status == 200
    assert backend.validate("lab-1", "not-a-jwt").status == 401
    assert backend.validate("nope", token).status == 404
    listed = json.loads(backend.request("GET", "/api/admin/validations").data)["validations"]
    assert [(v["sessionId"], v["status"]) for v in listed] == [
        ("lab-1", 200),
        ("lab-1", 401),
        ("nope", 404),
    ]
    assert token not in json.dumps(listed)
    backend.request("POST", "/api/admin/reset")
    assert json.loads(backend.request("GET", "/api/admin/validations").data) == {"validations": []}


# -- request signatures (ws_bridge.request_signing.RequestVerifier's contract) ----------------


class SignatureRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScriptedVerifier:
    """Stands in for RequestVerifier: records what it is asked, refuses with `refuse`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []
        self.refuse: str | None = None

    def verify(self, method: str, path: str, headers: Any, body: bytes) -> None:
        self.calls.append((method, path, dict(headers), body))
        if self.refuse is not None:
            raise SignatureRefused(self.refuse)


def _signed_backend() -> tuple[Backend, ScriptedVerifier]:
    verifier = ScriptedVerifier()
    backend = Backend(
        TokenCheck.with_secret(SECRET),
        sessions=[("lab:1", "alice")],
        signed_requests=verifier,
    )
    return backend, verifier


def test_every_handler_request_is_verified_with_the_path_as_sent() -> None:
    backend, verifier = _signed_backend()
    token = mint_token(SECRET, sub="alice", session_id="lab:1")
    headers = {"authorization": f"Bearer {token}", "x-bridge-signature": "v1=00"}
    route, reply = backend.handle("GET", "/api/labs/session/lab%3A1/validate?x=1", headers, b"")
    assert (route, reply.status) == ("/api/labs/session/{sessionId}/validate", 200)
    message = json.dumps({"type": "ping", "connectionId": "c-1"}).encode()
    _, reply = backend.handle("POST", "/api/ws/message", {"x-connection-id": "c-1"}, message)
    assert reply.status == 200
    notice = json.dumps({"connectionId": "c-1"}).encode()
    _, reply = backend.handle("POST", "/api/ws/disconnect", {}, notice)
    assert reply.status == 200
    assert [(m, p, b) for m, p, _, b in verifier.calls] == [
        ("GET", "/api/labs/session/lab%3A1/validate", b""),
        ("POST", "/api/ws/message", message),
        ("POST", "/api/ws/disconnect", notice),
    ]
    assert verifier.calls[0][2]["x-bridge-signature"] == "v1=00"
    _, counts = backend.handle("GET", "/api/admin/signatures", {}, b"")
    assert json.loads(counts.body) == {"signing": True, "verified": 3, "refused": {}}


@pytest.mark.parametrize("reason", ["missing", "malformed", "stale", "replayed", "bad_signature"])
def test_a_refused_signature_is_401_before_the_request_is_handled(reason: str) -> None:
    backend, verifier = _signed_backend()
    verifier.refuse = reason
    token = mint_token(SECRET, sub="alice", session_id="lab:1")
    _, reply = backend.handle(
        "GET", "/api/labs/session/lab%3A1/validate", {"authorization": f"Bearer {token}"}, b""
    )
    assert reply.status == 401
    assert json.loads(reply.body)["error"] == "bad_request_signature"
    message = json.dumps({"type": "ping", "connectionId": "c-1"}).encode()
    _, reply = backend.handle("POST", "/api/ws/message", {"x-connection-id": "c-1"}, message)
    assert reply.status == 401
    _, reply = backend.handle("POST", "/api/ws/disconnect", {}, b'{"connectionId": "c-1"}')
    assert reply.status == 401
    # Nothing was handled: no validation, message or disconnect recorded.
    for path, key in (
        ("/api/admin/validations", "validations"),
        ("/api/admin/messages", "messages"),
        ("/api/admin/disconnects", "disconnects"),
    ):
        assert json.loads(backend.handle("GET", path, {}, b"")[1].body)[key] == []
    _, counts = backend.handle("GET", "/api/admin/signatures", {}, b"")
    assert json.loads(counts.body) == {"signing": True, "verified": 0, "refused": {reason: 3}}


def test_admin_and_push_endpoints_need_no_handler_signature() -> None:
    backend, verifier = _signed_backend()
    verifier.refuse = "missing"
    assert backend.handle("GET", "/api/admin/health", {}, b"")[1].status == 200
    assert backend.handle("POST", "/api/push/session/lab%3A1", {}, b"{}")[1].status == 503
    assert verifier.calls == []


def test_without_a_signing_secret_requests_are_not_checked(backend: BackendHandle) -> None:
    assert backend.message({"type": "ping", "connectionId": "conn-1"}).status == 200
    counts = json.loads(backend.request("GET", "/api/admin/signatures").data)
    assert counts == {"signing": False, "verified": 0, "refused": {}}


# -- with ws_bridge.request_signing itself (once the handler's signing is part of the tree) ---


@pytest.fixture
def request_signing() -> Any:
    return pytest.importorskip(
        "ws_bridge.request_signing", reason="ws_bridge.request_signing is not in this tree yet"
    )


SIGNING_KEY = b"a-signing-key-of-the-handler-0123456789"


def test_the_backend_refuses_what_request_verifier_refuses(request_signing: Any) -> None:
    backend = Backend(
        TokenCheck.with_secret(SECRET),
        sessions=[("lab-1", "alice")],
        signed_requests=request_signing.RequestVerifier([SIGNING_KEY]),
    )
    body = json.dumps({"type": "ping", "connectionId": "c-1"}).encode()
    path = "/api/ws/message"

    def send(headers: dict[str, str], payload: bytes = body) -> int:
        return backend.handle("POST", path, {"x-connection-id": "c-1", **headers}, payload)[
            1
        ].status

    good = request_signing.sign_request(SIGNING_KEY, "POST", path, body)
    assert send(good) == 200
    assert send(good) == 401  # replayed
    assert send({}) == 401  # unsigned
    wrong = request_signing.sign_request(b"another-key-another-key-another-key", "POST", path, body)
    assert send(wrong) == 401
    stale = request_signing.sign_request(SIGNING_KEY, "POST", path, body, now=time.time() - 301)
    assert send(stale) == 401
    tampered = request_signing.sign_request(SIGNING_KEY, "POST", path, body)
    assert send(tampered, body.replace(b"ping", b"pong")) == 401
    _, counts = backend.handle("GET", "/api/admin/signatures", {}, b"")
    answer = json.loads(counts.body)
    assert answer["verified"] == 1
    assert sum(answer["refused"].values()) == 5
    assert {"replayed", "stale", "bad_signature"} <= set(answer["refused"])


def test_signed_requests_reads_the_current_and_previous_keys(
    request_signing: Any, aws_env: None
) -> None:
    from moto import mock_aws

    from wslocal.reference_backend import signed_requests

    with mock_aws():
        secrets_manager = boto3.client("secretsmanager")
        arn = secrets_manager.create_secret(Name="ws/sign", SecretString="old-key-0123456789")[
            "ARN"
        ]
        secrets_manager.put_secret_value(SecretId=arn, SecretString=SIGNING_KEY.decode())
        verifier = signed_requests(arn)
    for key in (SIGNING_KEY, b"old-key-0123456789"):
        headers = request_signing.sign_request(key, "GET", "/api/admin/x", b"")
        verifier.verify("GET", "/api/admin/x", headers, b"")


def test_signing_without_the_verifier_module_is_a_clear_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wslocal import reference_backend

    def missing(name: str) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(reference_backend.importlib, "import_module", missing)
    argv = ["--jwt-secret", SECRET, "--signing-secret-arn", "arn:aws:secretsmanager:x:sign"]
    with pytest.raises(SystemExit) as exited:
        reference_backend.main(argv)
    assert exited.value.code == 2
    assert "--signing-secret-arn needs ws_bridge.request_signing" in capsys.readouterr().err
