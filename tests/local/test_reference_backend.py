"""The reference backend over real HTTP on 127.0.0.1: the backend contract, push, faults, logs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
from local_support import BackendFactory, BackendHandle

from ws_bridge.logs import JsonFormatter
from ws_bridge_backend.push import PushResult
from wslocal.reference_backend import (
    COLS_RANGE,
    ROWS_RANGE,
    parse_fault,
    parse_session_flag,
)

IDS = {"connectionId": "conn-1", "sessionId": "lab-1", "userId": "alice"}


def body(response: urllib3.BaseHTTPResponse) -> Any:
    return json.loads(response.data)


# -- session validation: the handler's (signed) identity, checked against membership ----------


def test_a_member_is_accepted(backend: BackendHandle) -> None:
    response = backend.validate("lab-1", "bob")
    assert response.status == 200
    assert body(response) == {"valid": True, "sessionId": "lab-1", "userId": "bob"}


def test_an_unknown_session_is_404(backend: BackendHandle) -> None:
    response = backend.validate("lab-9", "alice")
    assert response.status == 404
    assert body(response)["error"] == "unknown_session"


def test_a_user_outside_the_session_is_403(backend: BackendHandle) -> None:
    assert backend.validate("lab-2", "alice").status == 403


def test_a_validate_call_whose_path_names_another_session_is_400(backend: BackendHandle) -> None:
    identity = {"connectionId": "conn-1", "sessionId": "lab-2", "userId": "carol"}
    response = backend.request(
        "POST",
        "/api/labs/session/lab-1/validate",
        body=identity,
        headers={"X-Connection-Id": "conn-1"},
    )
    assert response.status == 400


def test_the_session_id_is_url_decoded(backend: BackendHandle) -> None:
    # A session id the authorizer accepts (no "/" or spaces) may still hold characters that
    # the handler percent-encodes in the path.
    created = backend.request("PUT", "/api/admin/sessions/a%3Ab%40c", body={"users": ["dave"]})
    assert created.status == 200
    assert body(created)["sessionId"] == "a:b@c"
    assert backend.validate("a:b@c", "dave").status == 200


def test_sessions_are_managed_through_the_admin_endpoint(backend: BackendHandle) -> None:
    assert body(backend.request("GET", "/api/admin/sessions"))["sessions"] == {
        "lab-1": ["alice", "bob"],
        "lab-2": ["carol"],
    }
    assert backend.validate("lab-3", "dave").status == 404
    assert (
        backend.request("PUT", "/api/admin/sessions/lab-3", body={"users": ["dave"]}).status == 200
    )
    assert backend.validate("lab-3", "dave").status == 200
    assert backend.request("PUT", "/api/admin/sessions/lab-3", body={"users": []}).status == 400
    assert backend.request("DELETE", "/api/admin/sessions/lab-3").status == 200
    assert backend.validate("lab-3", "dave").status == 404
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


def error_reply(response: urllib3.BaseHTTPResponse, code: str) -> dict[str, Any]:
    """A refused message's answer: the session layer's numbered error reply (a 200: the
    handler relays it to the client, where a 4xx would become its backend_error)."""
    assert response.status == 200
    reply: dict[str, Any] = body(response)
    assert (reply["type"], reply["error"]) == ("error", code)
    assert isinstance(reply["seq"], int)
    assert isinstance(reply["message"], str)
    return reply


def test_command_must_be_a_string(backend: BackendHandle) -> None:
    response = backend.message({"type": "command", "command": ["rm", "-rf", "/"], **IDS})
    error_reply(response, "invalid_command")


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
    reply = error_reply(
        backend.message({"type": "resize", **size, **IDS, "id": "r.1"}), "invalid_resize"
    )
    assert reply["id"] == "r.1"


@pytest.mark.parametrize("kind", ["launch", "", None, 7, "PING"])
def test_unknown_types_get_an_error_reply(backend: BackendHandle, kind: Any) -> None:
    message = {**IDS} if kind is None else {"type": kind, **IDS}
    reply = error_reply(backend.message(message), "unknown_type")
    assert "launch" not in reply["message"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"{not json", "invalid_json"), (b"\xff\xfe", "invalid_json"), (b"[1, 2]", "invalid_call")],
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
    assert body(mismatch)["error"] == "invalid_call"


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
    assert backend.request("GET", "/api/labs/session/lab-1/validate").status == 405
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


# -- push (HTTP layer, with a recording fan-out) -----------------------------------------------


class RecordingDelivery:
    """The session layer's fan-out, recorded; ``outcome`` is each push's result (or raised)."""

    def __init__(self, outcome: PushResult | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, list[str], str | None]] = []

    def to_session(self, session_id: str, frames: Any, exclude: str | None = None) -> PushResult:
        self.calls.append((session_id, list(frames), exclude))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def to_connection(self, connection_id: str, frames: Any) -> None:
        """Only chunked replies use it: none here."""


def test_push_numbers_the_body_and_reports_counts(start_backend: BackendFactory) -> None:
    delivery = RecordingDelivery(PushResult(sent=2, gone=1))
    backend = start_backend(delivery=delivery)
    raw = b'{"type":"notice","text":"h\xc3\xa9"}'
    response = backend.request("POST", "/api/push/session/lab-1", raw=raw)
    assert response.status == 200
    assert body(response) == {"sent": 2, "gone": 1, "failed": 0, "seq": 1}
    assert delivery.calls == [("lab-1", ['{"seq":1,"type":"notice","text":"hé"}'], None)]
    assert body(backend.request("POST", "/api/push/session/lab-1", body={"n": 2}))["seq"] == 2


def test_push_refusals(start_backend: BackendFactory) -> None:
    delivery = RecordingDelivery(PushResult())
    backend = start_backend(delivery=delivery)
    assert backend.request("POST", "/api/push/session/lab-9", body={"a": 1}).status == 404
    assert backend.request("POST", "/api/push/session/lab-1", raw=b"{nope").status == 400
    assert backend.request("POST", "/api/push/session/lab-1", body=[1]).status == 400
    assert backend.request("POST", "/api/push/session/lab-1", body={"seq": 3}).status == 400
    big = json.dumps({"text": "x" * (1024 * 1024)}).encode()
    assert backend.request("POST", "/api/push/session/lab-1", raw=big).status == 413
    assert delivery.calls == []


def test_push_without_a_table_is_503(backend: BackendHandle) -> None:
    response = backend.request("POST", "/api/push/session/lab-1", body={"a": 1})
    assert response.status == 503
    assert body(response)["error"] == "push_unavailable"


def test_a_failing_push_is_502(start_backend: BackendFactory) -> None:
    backend = start_backend(delivery=RecordingDelivery(RuntimeError("DynamoDB is down")))
    response = backend.request("POST", "/api/push/session/lab-1", body={"a": 1})
    assert response.status == 502
    assert body(response)["error"] == "push_failed"


# -- faults ------------------------------------------------------------------------------------


def set_fault(backend: BackendHandle, **fault: Any) -> None:
    response = backend.request("POST", "/api/admin/faults", body=fault)
    assert response.status == 200, response.data


def contract_calls(backend: BackendHandle) -> dict[str, urllib3.BaseHTTPResponse]:
    return {
        "validate": backend.validate("lab-1", "alice"),
        "message": backend.message({"type": "ping", **IDS}),
        "disconnect": backend.request("POST", "/api/ws/disconnect", body=IDS),
    }


def test_fault_error_5xx(backend: BackendHandle) -> None:
    set_fault(backend, mode="error_5xx", status=503)
    for name, response in contract_calls(backend).items():
        assert response.status == 503, name
        assert body(response)["error"] == "fault_injected"


def test_fault_invalid_json(backend: BackendHandle) -> None:
    set_fault(backend, mode="invalid_json")
    for name, response in contract_calls(backend).items():
        assert response.status == 200, name
        assert response.headers["Content-Type"] == "application/json"
        with pytest.raises(ValueError, match="Expecting"):
            json.loads(response.data)


def test_fault_slow_delays_then_answers(backend: BackendHandle) -> None:
    set_fault(backend, mode="slow", delay_seconds=0.4, endpoints=["message"])
    started = time.monotonic()
    response = backend.message({"type": "ping", **IDS})
    assert time.monotonic() - started >= 0.4
    assert body(response)["type"] == "pong"
    started = time.monotonic()
    assert backend.validate("lab-1", "alice").status == 200
    assert time.monotonic() - started < 0.4


def test_fault_down_drops_the_connection(backend: BackendHandle) -> None:
    set_fault(backend, mode="down", endpoints=["validate", "message"])
    with pytest.raises(urllib3.exceptions.ProtocolError):
        backend.validate("lab-1", "alice")
    with pytest.raises(urllib3.exceptions.ProtocolError):
        backend.message({"type": "ping", **IDS})
    # Endpoints left out of the fault, and the admin API, still answer.
    assert backend.request("POST", "/api/ws/disconnect", body=IDS).status == 200
    assert body(backend.request("GET", "/api/admin/faults"))["mode"] == "down"
    set_fault(backend, mode="none")
    assert backend.validate("lab-1", "alice").status == 200


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
    start_backend: BackendFactory, caplog: pytest.LogCaptureFixture
) -> None:
    backend = start_backend(delivery=RecordingDelivery(PushResult(sent=1)))
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW1hcmtlcg"
    marker = "payload-marker-7f3a"
    with caplog.at_level(logging.DEBUG, logger="wslocal.reference_backend"):
        identity = {**IDS, "sessionSource": "token"}
        bearer = {"Authorization": f"Bearer {token}", "X-Connection-Id": "conn-1"}
        validate = "/api/labs/session/lab-1/validate"
        assert backend.request("POST", validate, body=identity, headers=bearer).status == 200
        assert backend.validate("lab-1", "mallory").status == 403
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
    assert [r["status"] for r in requests if r["route"].endswith("/validate")] == [200, 403]


# -- who refused: the validate calls the backend received ------------------------------------


def test_validate_calls_are_listed_with_their_outcome(backend: BackendHandle) -> None:
    assert backend.validate("lab-1", "alice").status == 200
    assert backend.validate("lab-1", "mallory").status == 403
    assert backend.validate("nope", "alice").status == 404
    listed = json.loads(backend.request("GET", "/api/admin/validations").data)["validations"]
    assert [(v["sessionId"], v["status"]) for v in listed] == [
        ("lab-1", 200),
        ("lab-1", 403),
        ("nope", 404),
    ]
    backend.request("POST", "/api/admin/reset")
    assert json.loads(backend.request("GET", "/api/admin/validations").data) == {"validations": []}
