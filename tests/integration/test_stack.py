"""The module as Terraform deployed it (examples/local in the emulator), driven over real
WebSockets through the local gateway, with the reference backend behind it.

Every behaviour here comes out of the module's wiring: the authorizer and the connection
handler are the shipped package, with the environment, routes, integrations and permissions
Terraform created. The last tests break that wiring in the deployed control plane (a route
aimed at the wrong function, a Lambda permission removed, an environment variable removed),
start a second gateway on the broken control plane (the gateway reads it once, at start) and
check that the session breaks as it would on AWS; the control plane is restored afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from wslocal.devtoken import mint_token
from wslocal.stack import ManagedProcess, gateway_service

if TYPE_CHECKING:
    from stack_support import StackHandle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LIMIT = 128 * 1024
TTL_SECONDS = 7200  # CONNECTION_TTL_SECONDS, the module's default
REPLY_TIMEOUT = 10.0


# -- helpers -----------------------------------------------------------------------------------


def open_ws(
    stack: StackHandle,
    token: str | None = None,
    *,
    url: str | None = None,
    query: dict[str, str] | None = None,
    **kwargs: Any,
) -> ClientConnection:
    """Connect (``?token=`` when given) and return the open connection."""
    base = url or stack.ws_url
    params = dict(query or {})
    if token is not None:
        params["token"] = token
    target = f"{base}?{urlencode(params)}" if params else base
    ws: ClientConnection = connect(target, open_timeout=20, max_size=2**20, **kwargs)
    return ws


def refusal(stack: StackHandle, token: str | None = None, **kwargs: Any) -> int:
    """The HTTP status the handshake is refused with (fails if it is accepted)."""
    with pytest.raises(InvalidStatus) as refused:
        open_ws(stack, token, **kwargs).close()
    return refused.value.response.status_code


def fragments(size: int, frame: int = 32 * 1024) -> list[str]:
    """A text message of `size` bytes as frames of at most 32 KB, API Gateway's frame limit."""
    return ["x" * min(frame, size - at) for at in range(0, size, frame)]


def ask(ws: ClientConnection, message: Any) -> dict[str, Any]:
    """Send `message` (a dict as JSON; a list of strings as the fragments of one message)."""
    if isinstance(message, dict):
        message = json.dumps(message)
    ws.send(message)
    reply: dict[str, Any] = json.loads(ws.recv(timeout=REPLY_TIMEOUT))
    return reply


def connection_id_of(ws: ClientConnection) -> str:
    """The connection id, as the backend sees it (echoed in every reply)."""
    reply = ask(ws, {"type": "resize", "cols": 80, "rows": 24})
    assert reply["type"] == "resize_ack", reply
    connection_id: str = reply["connectionId"]
    return connection_id


def wait_for[T](probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (after {timeout:.0f} s)")
        time.sleep(0.05)


def record_ids(stack: StackHandle) -> set[str]:
    return {item["connectionId"]["S"] for item in stack.records()}


def record_of(stack: StackHandle, connection_id: str) -> dict[str, Any] | None:
    item = (
        stack.local.client("dynamodb")
        .get_item(
            TableName=stack.local.outputs.table_name,
            Key={"connectionId": {"S": connection_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return {name: next(iter(value.values())) for name, value in item.items()}


def wait_record_gone(stack: StackHandle, connection_id: str) -> None:
    wait_for(
        lambda: True if record_of(stack, connection_id) is None else None,
        f"the record of {connection_id} is still in the table",
    )


def disconnect_notice(stack: StackHandle, connection_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        notices = stack.backend("GET", "/api/admin/disconnects")["disconnects"]
        mine = [n for n in notices if n["connectionId"] == connection_id]
        return mine[-1] if mine else None

    return wait_for(probe, f"the backend got no disconnect notice for {connection_id}")


def backend_messages(stack: StackHandle, connection_id: str) -> list[dict[str, Any]]:
    messages = stack.backend("GET", "/api/admin/messages")["messages"]
    return [m for m in messages if m["connectionId"] == connection_id]


def gateway_log_lines(stack: StackHandle) -> list[dict[str, Any]]:
    """The JSON log lines of the functions, as the gateway's log holds them."""
    text = stack.local.services["gateway"].log_path.read_text(errors="replace")
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            with suppress(ValueError):
                lines.append(json.loads(line))
    return lines


@contextmanager
def nothing_stored(stack: StackHandle) -> Iterator[None]:
    """The block adds no connection record."""
    before = record_ids(stack)
    yield
    assert record_ids(stack) <= before


def management_client(stack: StackHandle) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.connections_url,
        region_name=stack.local.config.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


# -- the handshake: the authorizer ----------------------------------------------------------


def test_missing_query_token_is_401_without_calling_the_authorizer(stack: StackHandle) -> None:
    def authorizer_lines() -> list[dict[str, Any]]:
        return [e for e in gateway_log_lines(stack) if e.get("logger") == "ws_bridge.authorizer"]

    before = len(authorizer_lines())
    with nothing_stored(stack):
        assert refusal(stack) == 401
        # The authorizer accepts a bearer header; the identity source (the query token) is
        # what is missing, so API Gateway answers 401 without calling it.
        headers = {"Authorization": f"Bearer {stack.token()}"}
        assert refusal(stack, additional_headers=headers) == 401
        assert refusal(stack, "") == 401
        # A request that does reach the authorizer, to know its log line has been written.
        assert refusal(stack, "garbage") == 401
    new = wait_for(
        lambda: authorizer_lines()[before:] or None, "the authorizer logged nothing", timeout=5
    )
    assert [(e["message"], e["reason"]) for e in new] == [("connect unauthorized", "malformed")]


def authorizer_lines(stack: StackHandle) -> list[dict[str, Any]]:
    return [e for e in gateway_log_lines(stack) if e.get("logger") == "ws_bridge.authorizer"]


def validate_calls(stack: StackHandle) -> list[dict[str, Any]]:
    """The validate calls the reference backend received (session id and status)."""
    calls: list[dict[str, Any]] = stack.backend("GET", "/api/admin/validations")["validations"]
    return calls


@pytest.mark.parametrize(
    ("case", "status", "decision"),
    [
        ("garbage", 401, ("connect unauthorized", "malformed")),
        ("signed with another key", 401, ("connect unauthorized", "bad_signature")),
        ("expired", 401, ("connect unauthorized", "expired")),
        ("not yet valid", 401, ("connect unauthorized", "not_yet_valid")),
        ("no subject", 401, ("connect unauthorized", "bad_user_claim")),
        ("two different tokens", 403, ("connect denied", "conflicting_tokens")),
    ],
)
def test_bad_tokens_are_refused_by_the_authorizer_and_the_backend_is_never_asked(
    stack: StackHandle, case: str, status: int, decision: tuple[str, str]
) -> None:
    """Who refused: the authorizer, for the reason its log line names; the backend (which
    would also refuse these tokens) never gets a validate call, so the test cannot pass on
    the backend's re-check."""
    now = int(time.time())
    headers: dict[str, str] = {}
    makers: dict[str, Callable[[], str]] = {
        "garbage": lambda: "not-a-jwt",
        "signed with another key": lambda: mint_token(
            "another-key-another-key-another-key", sub="alice", session_id="lab-1"
        ),
        "expired": lambda: stack.token(exp=now - 3600, iat=now - 7200),
        "not yet valid": lambda: stack.token(nbf=now + 3600),
        "no subject": lambda: mint_token(
            stack.local.jwt_secret, sub="alice", session_id="lab-1", extra_claims={"sub": ""}
        ),
        "two different tokens": lambda: stack.token(),
    }
    token = makers[case]()
    if case == "two different tokens":
        headers["Authorization"] = f"Bearer {stack.token(sub='bob')}"
    logged_before = len(authorizer_lines(stack))
    calls_before = len(validate_calls(stack))
    with nothing_stored(stack):
        assert refusal(stack, token, additional_headers=headers) == status
    new = wait_for(
        lambda: authorizer_lines(stack)[logged_before:] or None,
        "the authorizer logged nothing",
        timeout=5,
    )
    assert [(e["message"], e["reason"]) for e in new] == [decision]
    assert validate_calls(stack)[calls_before:] == []


def test_a_good_token_reaches_the_backend_once(stack: StackHandle) -> None:
    """The counterpart: the validate log does see the calls the handler makes."""
    calls_before = len(validate_calls(stack))
    with open_ws(stack, stack.token()):
        pass
    calls = validate_calls(stack)[calls_before:]
    assert [(c["sessionId"], c["status"]) for c in calls] == [("lab-1", 200)]


def test_session_id_query_contradicting_the_token_is_403(stack: StackHandle) -> None:
    logged_before = len(authorizer_lines(stack))
    calls_before = len(validate_calls(stack))
    with nothing_stored(stack):
        assert refusal(stack, stack.token(session="lab-1"), query={"sessionId": "lab-2"}) == 403
    new = wait_for(
        lambda: authorizer_lines(stack)[logged_before:] or None,
        "the authorizer logged nothing",
        timeout=5,
    )
    assert [(e["message"], e["reason"]) for e in new] == [("connect denied", "session_mismatch")]
    assert validate_calls(stack)[calls_before:] == []


# -- the handshake: $connect and the backend -------------------------------------------------


@pytest.mark.parametrize(
    ("user", "session", "status", "backend_said"),
    [
        ("alice", "lab-404", 400, [("lab-404", 404)]),  # the backend does not know it
        ("alice", "lab-2", 403, [("lab-2", 403)]),  # lab-2 is carol's
        ("alice", None, 400, []),  # no session in the token nor in the query: not asked
    ],
)
def test_backend_verdicts_decide_the_handshake(
    healthy_backend: StackHandle,
    user: str,
    session: str | None,
    status: int,
    backend_said: list[tuple[str, int]],
) -> None:
    stack = healthy_backend
    calls_before = len(validate_calls(stack))
    with nothing_stored(stack):
        assert refusal(stack, stack.token(sub=user, session=session)) == status
    calls = validate_calls(stack)[calls_before:]
    assert [(c["sessionId"], c["status"]) for c in calls] == backend_said


@pytest.mark.parametrize("fault", [{"mode": "down"}, {"mode": "error_5xx", "status": 503}])
def test_backend_failure_fails_closed_with_502(
    healthy_backend: StackHandle, fault: dict[str, Any]
) -> None:
    stack = healthy_backend
    stack.backend("POST", "/api/admin/faults", {**fault, "endpoints": ["validate"]})
    with nothing_stored(stack):
        assert refusal(stack, stack.token()) == 502


# -- $connect stores the record --------------------------------------------------------------


def test_connect_stores_the_record_with_expires_at_in_epoch_seconds(stack: StackHandle) -> None:
    before = time.time()
    with open_ws(stack, stack.token(sub="bob")) as ws:
        after = time.time()
        connection_id = connection_id_of(ws)
        record = record_of(stack, connection_id)
        assert record is not None
        assert (record["userId"], record["sessionId"]) == ("bob", "lab-1")
        assert before * 1000 - 1000 <= int(record["connectedAt"]) <= after * 1000 + 1000
        expires_at = int(record["expiresAt"])
        assert before + TTL_SECONDS - 2 <= expires_at <= after + TTL_SECONDS + 2
        fields = "connectionId sessionId userId connectedAt expiresAt tokenExpiresAt"
        assert set(record) == set(fields.split())  # tokenExpiresAt: the token's exp


def test_session_named_in_the_query_is_validated_and_used(stack: StackHandle) -> None:
    token = stack.token(session=None)
    with open_ws(stack, token, query={"sessionId": "lab-1"}) as ws:
        connection_id = connection_id_of(ws)
        assert record_of(stack, connection_id) is not None
        reply = ask(ws, {"type": "command", "command": "pwd", "sessionId": "lab-2"})
        assert reply["sessionId"] == "lab-1"
    with nothing_stored(stack):
        assert refusal(stack, token, query={"sessionId": "lab-2"}) == 403  # carol's session


def test_bearer_subprotocol_is_echoed(stack: StackHandle) -> None:
    token = stack.token()
    # The identity source is the query token, so it is also in the query (the same token).
    with open_ws(stack, token, subprotocols=["bearer", token]) as ws:
        assert ws.subprotocol == "bearer"
        assert connection_id_of(ws)
    with open_ws(stack, token) as ws:
        assert ws.subprotocol is None


# -- routes and replies ----------------------------------------------------------------------


def test_ping_route_is_answered_by_the_handler_without_the_backend(stack: StackHandle) -> None:
    with open_ws(stack, stack.token()) as ws:
        connection_id = connection_id_of(ws)
        forwarded = len(backend_messages(stack, connection_id))
        started = time.time() * 1000
        reply = ask(ws, {"type": "ping"})
        assert reply["type"] == "pong"
        assert started - 1000 <= reply["timestamp"] <= time.time() * 1000 + 1000
        assert set(reply) == {"type", "timestamp"}  # the handler's answer, not the backend's
        assert len(backend_messages(stack, connection_id)) == forwarded


@pytest.mark.parametrize(
    ("message", "reply_type"),
    [
        ({"type": "command", "command": "rm -rf /"}, "command_result"),
        ({"type": "resize", "cols": 132, "rows": 43}, "resize_ack"),
        ({"type": "nosuchroute"}, "error"),  # the backend's own error reply, numbered
        ({"command": "no type at all"}, "error"),
    ],
)
def test_default_route_forwards_to_the_backend_and_replies(
    stack: StackHandle, message: dict[str, Any], reply_type: str
) -> None:
    with open_ws(stack, stack.token()) as ws:
        connection_id = connection_id_of(ws)
        reply = ask(ws, message)
    assert reply["type"] == reply_type, reply
    if reply_type == "command_result":
        assert reply["result"] == {"output": "rm -rf /", "exitCode": 0, "executed": False}
    if reply_type == "resize_ack":
        assert (reply["cols"], reply["rows"]) == (132, 43)
    if reply_type == "error":
        assert (reply["error"], reply["seq"] > 0) == ("unknown_type", True)
    seen = backend_messages(stack, connection_id)[-1]
    expected_type = message.get("type") if message.get("type") in ("command", "resize") else "other"
    assert seen["type"] == expected_type

    def forwarded_on_default() -> list[dict[str, Any]] | None:
        lines = [
            e
            for e in gateway_log_lines(stack)
            if e.get("connectionId") == connection_id and e.get("message") == "message forwarded"
        ]
        return lines if len(lines) >= 2 else None

    lines = wait_for(forwarded_on_default, "the handler logged no forwarded message", 5)
    assert {e["routeKey"] for e in lines} == {"$default"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "not_an_object"),
        (fragments(LIMIT), "invalid_json"),  # exactly the limit still reaches the handler
        (b"\xff\xfe\x00", "invalid_json"),  # binary: $default, base64-encoded to the handler
    ],
    ids=["text", "array", "128KB", "binary"],
)
def test_unusable_messages_get_an_error_reply_through_default(
    stack: StackHandle, frame: str | bytes | list[str], code: str
) -> None:
    with open_ws(stack, stack.token()) as ws:
        connection_id = connection_id_of(ws)
        forwarded = len(backend_messages(stack, connection_id))
        reply = ask(ws, frame)
        assert reply["type"] == "error"
        assert reply["error"] == code
        assert set(reply) == {"type", "error", "message", "requestId", "traceparent"}
        assert len(backend_messages(stack, connection_id)) == forwarded
    logged = wait_for(
        lambda: (
            [e for e in gateway_log_lines(stack) if e.get("requestId") == reply["requestId"]]
            or None
        ),
        "no log line carries the reply's requestId",
        5,
    )
    assert {e["routeKey"] for e in logged} == {"$default"}


def test_forged_identity_is_overwritten_by_the_authorizer_context(stack: StackHandle) -> None:
    forged = {"userId": "mallory", "sessionId": "lab-2", "connectionId": "forged="}
    with open_ws(stack, stack.token(sub="bob")) as ws:
        connection_id = connection_id_of(ws)
        reply = ask(ws, {"type": "command", "command": "id", **forged})
    assert reply["type"] == "command_result"
    assert (reply["userId"], reply["sessionId"], reply["connectionId"]) == (
        "bob",
        "lab-1",
        connection_id,
    )
    seen = backend_messages(stack, connection_id)[-1]
    assert (seen["userId"], seen["sessionId"]) == ("bob", "lab-1")


# -- limits, disconnect ------------------------------------------------------------------------


def test_message_over_128_kb_closes_with_1009(stack: StackHandle) -> None:
    with open_ws(stack, stack.token()) as ws:
        connection_id = connection_id_of(ws)
        with suppress(ConnectionClosed):  # the gateway may close before the last fragment
            ws.send(fragments(LIMIT + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=REPLY_TIMEOUT)
        assert ws.close_code == 1009
    wait_record_gone(stack, connection_id)
    assert disconnect_notice(stack, connection_id)["disconnectStatusCode"] == 1009


def test_disconnect_removes_the_record_and_notifies_the_backend(stack: StackHandle) -> None:
    with open_ws(stack, stack.token(sub="bob")) as ws:
        connection_id = connection_id_of(ws)
        assert record_of(stack, connection_id) is not None
        ws.close(code=4000, reason="bye")
    wait_record_gone(stack, connection_id)
    notice = disconnect_notice(stack, connection_id)
    assert notice["userId"] == "bob"
    assert notice["sessionId"] == "lab-1"
    assert notice["disconnectStatusCode"] == 4000
    assert notice["disconnectReason"] == "bye"


# -- @connections and push ---------------------------------------------------------------------


def test_connections_post_get_delete(stack: StackHandle) -> None:
    client = management_client(stack)
    with open_ws(stack, stack.token(), user_agent_header="stack-test/1") as ws:
        connection_id = connection_id_of(ws)
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"notice"}')
        assert json.loads(ws.recv(timeout=REPLY_TIMEOUT)) == {"type": "notice"}

        status = client.get_connection(ConnectionId=connection_id)
        assert status["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "stack-test/1"}
        record = record_of(stack, connection_id)
        assert record is not None
        assert abs(status["ConnectedAt"].timestamp() * 1000 - int(record["connectedAt"])) < 1000

        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=REPLY_TIMEOUT)
        assert ws.close_code == 1000
    wait_record_gone(stack, connection_id)
    assert disconnect_notice(stack, connection_id)["disconnectStatusCode"] == 1000
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=connection_id)


def test_connections_unknown_id_is_410(stack: StackHandle) -> None:
    client = management_client(stack)
    with pytest.raises(client.exceptions.GoneException) as gone:
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"{}")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId="AAAAAAAAAAAAAAA=")


@pytest.fixture
def push_session(stack: StackHandle) -> Iterator[str]:
    """A session of its own (alice only), so no other connection receives the push."""
    session = f"lab-push-{time.monotonic_ns()}"
    stack.backend("PUT", f"/api/admin/sessions/{session}", {"users": ["alice"]})
    yield session
    stack.backend("DELETE", f"/api/admin/sessions/{session}")


def test_push_reaches_the_session_and_deletes_stale_records(
    stack: StackHandle, push_session: str
) -> None:
    dead = "DeadConnection0="
    now = int(time.time())
    with open_ws(stack, stack.token(session=push_session)) as ws:
        # Written after the first reply: every reply also goes to the session's other
        # connections, and that one would already find the dead one gone.
        live = connection_id_of(ws)
        stack.local.client("dynamodb").put_item(
            TableName=stack.local.outputs.table_name,
            Item={
                "connectionId": {"S": dead},
                "sessionId": {"S": push_session},
                "userId": {"S": "alice"},
                "connectedAt": {"N": str((now - 60) * 1000)},
                "expiresAt": {"N": str(now + TTL_SECONDS)},
            },
        )
        notice = {"type": "notice", "text": "build finished"}
        outcome = stack.backend("POST", f"/api/push/session/{push_session}", notice)
        assert outcome == {"sent": 1, "gone": 1, "failed": 0, "seq": 2}
        assert json.loads(ws.recv(timeout=REPLY_TIMEOUT)) == {"seq": 2, **notice}
        assert record_of(stack, dead) is None
        assert record_of(stack, live) is not None


def test_push_to_an_unknown_session_is_404(stack: StackHandle) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        stack.backend("POST", "/api/push/session/lab-nobody", {"type": "notice"})
    assert refused.value.code == 404


# -- broken wiring: what the tests catch -----------------------------------------------------


@contextmanager
def fresh_gateway(stack: StackHandle, logs: Path) -> Iterator[tuple[str, ManagedProcess]]:
    """A second gateway (free ports, one worker per function) that reads the control plane as
    it is now; yields its WebSocket URL and its process (whose log holds the functions')."""
    info = stack.local.info
    config = dataclasses.replace(info.config, gateway_port=0, connections_port=0)
    argv = gateway_service(("--workers", "1")).argv(dataclasses.replace(info, config=config))
    process = ManagedProcess("gateway", argv, stack.local.environment(), logs / "gateway.log")
    try:
        port = process.wait_ready(0, timeout=60)
        yield f"ws://127.0.0.1:{port}/{stack.local.outputs.stage_name}", process
    finally:
        process.stop(10)


def _invocation_uri(stack: StackHandle, function_arn: str) -> str:
    region = stack.local.config.region
    return (
        f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


@contextmanager
def ping_route_aimed_at_the_authorizer(stack: StackHandle) -> Iterator[None]:
    """Route `ping` targets a new integration that invokes the authorizer function."""
    apigw = stack.local.client("apigatewayv2")
    api_id = stack.local.outputs.api_id
    route = next(r for r in apigw.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == "ping")
    authorizer = stack.local.client("lambda").get_function_configuration(
        FunctionName=stack.local.outputs.authorizer_function_name
    )
    integration_id = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationMethod="POST",
        IntegrationUri=_invocation_uri(stack, authorizer["FunctionArn"]),
    )["IntegrationId"]
    apigw.update_route(
        ApiId=api_id, RouteId=route["RouteId"], Target=f"integrations/{integration_id}"
    )
    try:
        yield
    finally:
        apigw.update_route(ApiId=api_id, RouteId=route["RouteId"], Target=route["Target"])
        apigw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
        restored = apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])
        assert restored["Target"] == route["Target"]


def _statements(lambda_: Any, function_name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(
        lambda_.get_policy(FunctionName=function_name)["Policy"]
    )["Statement"]
    return statements


def _source_arn(statement: dict[str, Any]) -> str:
    source_arn: str = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    return source_arn


@contextmanager
def permissions_removed(
    stack: StackHandle,
    function_name: str,
    misdirect: Callable[[str], str] | None = None,
) -> Iterator[None]:
    """Every resource-policy statement of `function_name` removed, re-added afterwards.
    With `misdirect`, each is replaced meanwhile by one allowing `misdirect(SourceArn)`."""
    lambda_ = stack.local.client("lambda")
    original = _statements(lambda_, function_name)
    assert original, f"{function_name} has no Lambda permission to remove"
    for statement in original:
        lambda_.remove_permission(FunctionName=function_name, StatementId=statement["Sid"])
    try:
        if misdirect is not None:
            for statement in original:
                source_arn = misdirect(_source_arn(statement))
                assert source_arn != _source_arn(statement)
                lambda_.add_permission(
                    FunctionName=function_name,
                    StatementId=statement["Sid"],
                    Action=statement["Action"],
                    Principal=statement["Principal"]["Service"],
                    SourceArn=source_arn,
                )
        yield
    finally:
        if misdirect is not None:
            for statement in _statements(lambda_, function_name):
                lambda_.remove_permission(FunctionName=function_name, StatementId=statement["Sid"])
        for statement in original:
            lambda_.add_permission(
                FunctionName=function_name,
                StatementId=statement["Sid"],
                Action=statement["Action"],
                Principal=statement["Principal"]["Service"],
                SourceArn=_source_arn(statement),
            )
        assert _statements(lambda_, function_name) == original


@contextmanager
def variable_removed(stack: StackHandle, function_name: str, name: str) -> Iterator[None]:
    """The environment variable `name` removed from `function_name`, restored afterwards."""
    lambda_ = stack.local.client("lambda")
    original = dict(
        lambda_.get_function_configuration(FunctionName=function_name)["Environment"]["Variables"]
    )
    assert name in original
    broken = {key: value for key, value in original.items() if key != name}
    lambda_.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": broken}
    )
    try:
        yield
    finally:
        lambda_.update_function_configuration(
            FunctionName=function_name, Environment={"Variables": original}
        )
        now = lambda_.get_function_configuration(FunctionName=function_name)
        assert now["Environment"]["Variables"] == original


def test_a_fresh_gateway_on_the_deployed_control_plane_holds_a_session(
    stack: StackHandle, tmp_path: Path
) -> None:
    """The baseline of the fault tests below: the same second gateway, nothing broken."""
    with fresh_gateway(stack, tmp_path) as (url, _process):
        with open_ws(stack, stack.token(), url=url) as ws:
            connection_id = connection_id_of(ws)
            assert record_of(stack, connection_id) is not None
            assert ask(ws, {"type": "ping"})["type"] == "pong"
        wait_record_gone(stack, connection_id)


def test_route_aimed_at_the_wrong_function_breaks_that_route(
    stack: StackHandle, tmp_path: Path
) -> None:
    with (
        ping_route_aimed_at_the_authorizer(stack),
        fresh_gateway(stack, tmp_path) as (url, _),
        open_ws(stack, stack.token(), url=url) as ws,
    ):
        reply = ask(ws, {"type": "ping"})
        # The authorizer refuses a message event (no token): Lambda error → API Gateway's
        # generic answer on the route, and no pong.
        assert reply["message"] == "Internal server error"
        assert "type" not in reply
        assert ask(ws, {"type": "resize", "cols": 1, "rows": 1})["type"] == "resize_ack"


@pytest.mark.parametrize("function", ["authorizer", "connection_handler"])
def test_missing_lambda_permission_fails_the_handshake_with_500(
    stack: StackHandle, tmp_path: Path, function: str
) -> None:
    name = getattr(stack.local.outputs, f"{function}_function_name")
    with permissions_removed(stack, name), fresh_gateway(stack, tmp_path) as (url, process):
        with nothing_stored(stack):
            assert refusal(stack, stack.token(), url=url) == 500
        log = process.log_path.read_text()
        assert f"not allowed to invoke {name}" in log


@pytest.mark.parametrize(
    ("function", "elsewhere"),
    [
        ("connection_handler", "stage"),
        ("connection_handler", "api"),
        ("authorizer", "api"),
        ("authorizer", "stage"),
    ],
)
def test_permission_for_another_source_arn_fails_the_handshake_with_500(
    stack: StackHandle, tmp_path: Path, function: str, elsewhere: str
) -> None:
    """The deployed statement re-added for another stage or another API: the gateway
    checks the SourceArn API Gateway would present, so the invocation is refused."""
    name = getattr(stack.local.outputs, f"{function}_function_name")
    api_id = stack.local.outputs.api_id
    stage = stack.local.outputs.stage_name

    def misdirect(source_arn: str) -> str:
        if elsewhere == "api":
            return source_arn.replace(f":{api_id}/", ":a0b1c2d3e4/")
        if function == "authorizer":  # the route shape, for the authorizer's own ARN
            return source_arn.split("/authorizers/")[0] + f"/{stage}/*"
        return source_arn.replace(f"/{stage}/", "/another-stage/")

    with (
        permissions_removed(stack, name, misdirect),
        fresh_gateway(stack, tmp_path) as (url, process),
    ):
        with nothing_stored(stack):
            assert refusal(stack, stack.token(), url=url) == 500
        log = process.log_path.read_text()
        assert f"not allowed to invoke {name}" in log


@pytest.mark.parametrize(
    ("function", "variable"),
    [("authorizer", "JWT_SECRET_ARN"), ("connection_handler", "BACKEND_URL")],
)
def test_missing_environment_variable_fails_the_handshake_with_500(
    stack: StackHandle, tmp_path: Path, function: str, variable: str
) -> None:
    name = getattr(stack.local.outputs, f"{function}_function_name")
    broken: AbstractContextManager[None] = variable_removed(stack, name, variable)
    with broken, fresh_gateway(stack, tmp_path) as (url, process):
        with nothing_stored(stack):
            assert refusal(stack, stack.token(), url=url) == 500
        log = process.log_path.read_text()
        assert f"function {name} failed to initialise" in log
        assert variable in log
