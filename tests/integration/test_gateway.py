"""The local WebSocket gateway, driven over real WebSockets against APIs deployed into
moto's server with boto3: every API Gateway behaviour it reproduces, rejections included.

The Lambda functions run tests/integration/gateway_fixtures/handlers.py, zipped here; each
handler appends the event it received to a JSON-lines file, so assertions read what the
gateway really delivered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.server
import io
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.awslambda.responses import LambdaResponse
from moto.moto_api._internal.models import moto_api_backend
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from wslocal.emulator import start_emulator
from wslocal.emulator.awslambda import get_layer_version_by_arn
from wslocal.gateway import Gateway, GatewayError, GatewaySettings, GatewayThread, runtime
from wslocal.gateway.control_plane import LambdaFunction
from wslocal.gateway.packages import make_runtime_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REGION = "us-east-1"
STAGE = "test"
HANDLERS = Path(__file__).parent / "gateway_fixtures" / "handlers.py"
REPO = Path(__file__).resolve().parents[2]
LIMIT = 128 * 1024


# -- the control plane -----------------------------------------------------------------------


@dataclass
class Aws:
    endpoint: str
    account: str
    package_dir: Path
    event_log: Path
    role_arn: str = ""
    functions: dict[str, str] = field(default_factory=dict)

    def client(self, name: str) -> Any:
        return boto3.client(name, region_name=REGION)  # type: ignore[call-overload]

    def events(self) -> list[dict[str, Any]]:
        if not self.event_log.exists():
            return []
        lines = self.event_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def events_of(self, connection_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events()
            if e["event"]["requestContext"].get("connectionId") == connection_id
            and (kind is None or e["kind"] == kind)
        ]

    def wait_for(self, connection_id: str, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events_of(connection_id, kind)
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no {kind} event for {connection_id}")


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    # The local emulator, in this process (the layer tests patch its Lambda API).
    emulator = start_emulator(0)
    host, port = "127.0.0.1", emulator.port
    workdir = tmp_path_factory.mktemp("gateway")
    package_dir = workdir / "packages"
    package_dir.mkdir()
    package = package_dir / "handlers.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(HANDLERS, "handlers.py")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        env = Aws(
            endpoint=f"http://{host}:{port}",
            account=boto3.client("sts", region_name=REGION).get_caller_identity()["Account"],
            package_dir=package_dir,
            event_log=workdir / "events.jsonl",
        )
        env.role_arn = env.client("iam").create_role(
            RoleName="gateway-test",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        # The functions run with this role's credentials: the probe of $connect pushes.
        env.client("iam").put_role_policy(
            RoleName="gateway-test",
            PolicyName="push",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "execute-api:ManageConnections",
                            "Resource": "arn:aws:execute-api:*:*:*/*/POST/@connections/*",
                        }
                    ],
                }
            ),
        )
        code = package.read_bytes()
        for name, handler, timeout in (
            ("auth", "handlers.authorize", 5),
            ("main", "handlers.main", 10),
            ("slow", "handlers.slow", 1),
            ("late", "handlers.slow", 5),
            ("noperm", "handlers.main", 5),
            ("otherapi", "handlers.main", 5),
        ):
            env.functions[name] = env.client("lambda").create_function(
                FunctionName=f"gw-{name}",
                Runtime="python3.12",
                Role=env.role_arn,
                Handler=handler,
                Code={"ZipFile": code},
                Timeout=timeout,
                Environment={"Variables": {"EVENT_LOG": str(env.event_log), "FLAVOUR": name}},
            )["FunctionArn"]
        yield env
    emulator.stop()
    # moto keeps its accounts in this process, not in the server: the next module on this
    # worker that starts an emulator (test_gateway_faults imports this fixture) would find
    # this role and these functions already there.
    moto_api_backend.reset()


def _uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def _permit(aws: Aws, function: str, source_arn: str) -> None:
    aws.client("lambda").add_permission(
        FunctionName=aws.functions[function],
        StatementId=f"s{abs(hash(source_arn))}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )


class Api:
    """A WebSocket API built with boto3, route by route."""

    def __init__(self, aws: Aws, name: str) -> None:
        self.aws = aws
        self.client = aws.client("apigatewayv2")
        self.api_id = self.client.create_api(
            Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )["ApiId"]
        self.execution_arn = f"arn:aws:execute-api:{REGION}:{aws.account}:{self.api_id}"
        self.integrations: dict[str, str] = {}

    def integration(self, function: str, timeout_ms: int = 29_000) -> str:
        key = f"{function}/{timeout_ms}"
        if key not in self.integrations:
            self.integrations[key] = self.client.create_integration(
                ApiId=self.api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=_uri(self.aws.functions[function]),
                TimeoutInMillis=timeout_ms,
            )["IntegrationId"]
        return self.integrations[key]

    def route(
        self,
        key: str,
        function: str,
        *,
        two_way: bool = False,
        selection_only: bool = False,
        authorizer_id: str | None = None,
        timeout_ms: int = 29_000,
    ) -> None:
        extra: dict[str, Any] = {}
        if two_way or selection_only:
            extra["RouteResponseSelectionExpression"] = "$default"
        if authorizer_id:
            extra.update(AuthorizationType="CUSTOM", AuthorizerId=authorizer_id)
        route_id = self.client.create_route(
            ApiId=self.api_id,
            RouteKey=key,
            Target=f"integrations/{self.integration(function, timeout_ms)}",
            **extra,
        )["RouteId"]
        if two_way:
            self.client.create_route_response(
                ApiId=self.api_id, RouteId=route_id, RouteResponseKey="$default"
            )

    def authorizer(self, function: str) -> str:
        authorizer_id: str = self.client.create_authorizer(
            ApiId=self.api_id,
            AuthorizerType="REQUEST",
            Name="token",
            AuthorizerUri=_uri(self.aws.functions[function]),
            IdentitySource=["route.request.querystring.token"],
        )["AuthorizerId"]
        _permit(self.aws, function, f"{self.execution_arn}/authorizers/{authorizer_id}")
        return authorizer_id

    def stage(self, **variables: str) -> None:
        self.client.create_stage(ApiId=self.api_id, StageName=STAGE, StageVariables=variables)


@pytest.fixture(scope="module")
def main_api(aws: Aws) -> Api:
    """The full API: authorizer, $connect, $disconnect, two-way $default, and routes whose
    integrations time out, lack a permission, or are one-way."""
    api = Api(aws, "main")
    authorizer_id = api.authorizer("auth")
    api.route("$connect", "main", authorizer_id=authorizer_id)
    api.route("$disconnect", "main")
    api.route("$default", "main", two_way=True)
    api.route("oneway", "main", selection_only=True)
    api.route("slow", "slow", two_way=True)
    api.route("late", "late", two_way=True, timeout_ms=300)
    api.route("noperm", "noperm", two_way=True)
    api.route("otherapi", "otherapi", two_way=True)
    # Wildcards in SourceArn, as Terraform writes them.
    _permit(aws, "main", f"{api.execution_arn}/*/$*")
    _permit(aws, "main", f"{api.execution_arn}/{STAGE}/onewa?")
    _permit(aws, "slow", f"{api.execution_arn}/*/*")
    _permit(aws, "late", f"{api.execution_arn}/*/*")
    _permit(aws, "otherapi", f"arn:aws:execute-api:{REGION}:{aws.account}:someoneelse/*/*")
    api.stage(flavour="local")
    return api


@pytest.fixture(scope="module")
def gateway(aws: Aws, main_api: Api) -> Iterator[Gateway]:
    settings = GatewaySettings(
        api_id=main_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        # Added to every worker; Lambda's reserved variables cannot be replaced.
        worker_environment={"LOCAL_SETTING": "from the gateway", "AWS_REGION": "eu-west-3"},
    )
    with GatewayThread(settings) as running:
        yield running


@pytest.fixture(scope="module")
def plain_api(aws: Aws) -> Api:
    """No $connect route, no authorizer, no $default: one two-way route `echo`."""
    api = Api(aws, "plain")
    api.route("echo", "main", two_way=True)
    api.route("$disconnect", "main")
    _permit(aws, "main", f"{api.execution_arn}/{STAGE}/*")
    api.stage()
    return api


def _connect(gateway: Gateway, query: str = "token=good", **kwargs: Any) -> ClientConnection:
    ws: ClientConnection = connect(f"{gateway.ws_url}?{query}", open_timeout=20, **kwargs)
    return ws


def _rejection(gateway: Gateway, query: str) -> int:
    with pytest.raises(InvalidStatus) as caught:
        _connect(gateway, query).close()
    return caught.value.response.status_code


def _ask(ws: ClientConnection, message: str | bytes, timeout: float = 10.0) -> Any:
    ws.send(message)
    return json.loads(ws.recv(timeout=timeout))


def _connection_id(ws: ClientConnection) -> str:
    reply = _ask(ws, json.dumps({"action": "whoami"}))
    connection_id: str = reply["event"]["requestContext"]["connectionId"]
    return connection_id


def _management(gateway: Gateway) -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=gateway.connections_url, region_name=REGION
    )


# -- the handshake ---------------------------------------------------------------------------


def test_missing_identity_source_is_401_without_calling_the_authorizer(
    aws: Aws, gateway: Gateway
) -> None:
    before = len([e for e in aws.events() if e["kind"] == "authorize"])
    assert _rejection(gateway, "other=1") == 401
    assert _rejection(gateway, "token=") == 401
    assert len([e for e in aws.events() if e["kind"] == "authorize"]) == before


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("denied", 403),  # policy Deny
        ("garbage", 401),  # raise Exception("Unauthorized")
        ("explode", 500),  # any other failure
        ("good-huge", 500),  # answer over 8 KB
        ("good-nested", 500),  # context value that is not a string, number or boolean
    ],
)
def test_authorizer_answers_decide_the_handshake(gateway: Gateway, token: str, status: int) -> None:
    assert _rejection(gateway, f"token={token}") == status


@pytest.mark.parametrize("status", [400, 403, 429])
def test_connect_status_rejects_the_upgrade_with_that_status(gateway: Gateway, status: int) -> None:
    assert _rejection(gateway, f"token=good&status={status}") == status


def test_wrong_stage_is_forbidden(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as caught:
        connect(gateway.ws_url.replace(f"/{STAGE}", "/other") + "?token=good", open_timeout=10)
    assert caught.value.response.status_code == 403


def test_connect_echoes_the_subprotocol_and_its_headers(gateway: Gateway) -> None:
    with _connect(gateway, subprotocols=["bearer", "eyJhbGciOi.x.y"]) as ws:
        assert ws.subprotocol == "bearer"
        assert ws.response is not None
        assert ws.response.headers["X-Connect-Handler"] == "main"
    with _connect(gateway) as ws:
        assert ws.subprotocol is None
        assert "Sec-WebSocket-Protocol" not in ws.response.headers  # type: ignore[union-attr]


def test_connect_and_authorizer_events(aws: Aws, gateway: Gateway, main_api: Api) -> None:
    with _connect(gateway, "token=good&tag=a&tag=b", additional_headers={"X-Custom": "1"}) as ws:
        connection_id = _connection_id(ws)
    connect_event = aws.wait_for(connection_id, "$connect")["event"]
    context = connect_event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["apiId"] == main_api.api_id
    assert context["stage"] == STAGE
    assert context["domainName"] == f"{main_api.api_id}.execute-api.{REGION}.amazonaws.com"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"].startswith("Python/")
    assert context["authorizer"]["principalId"] == "user-1"
    assert context["authorizer"]["userId"] == "user-1"
    assert connect_event["queryStringParameters"] == {"token": "good", "tag": "b"}
    assert connect_event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert connect_event["headers"]["X-Custom"] == "1"
    assert connect_event["multiValueHeaders"]["X-Custom"] == ["1"]
    assert connect_event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert connect_event["stageVariables"] == {"flavour": "local"}
    assert len(connection_id) == 16
    assert connection_id.endswith("=")

    authorizer_events = [
        e
        for e in aws.events()
        if e["kind"] == "authorize"
        and e["event"]["requestContext"]["connectionId"] == connection_id
    ]
    assert len(authorizer_events) == 1
    authorizer_event = authorizer_events[0]["event"]
    assert authorizer_event["type"] == "REQUEST"
    assert authorizer_event["methodArn"] == f"{main_api.execution_arn}/{STAGE}/$connect"
    assert authorizer_event["queryStringParameters"]["token"] == "good"
    assert authorizer_event["headers"]["X-Custom"] == "1"
    assert authorizer_event["requestContext"]["connectedAt"] == context["connectedAt"]


# -- messages ---------------------------------------------------------------------------------


def test_message_event_carries_the_authorizer_context(gateway: Gateway, main_api: Api) -> None:
    with _connect(gateway) as ws:
        sent = json.dumps({"action": "hello", "n": 1})
        reply = _ask(ws, sent)
    assert reply["route"] == "$default"
    event = reply["event"]
    context = event["requestContext"]
    assert event["body"] == sent
    assert event["isBase64Encoded"] is False
    assert context["routeKey"] == "$default"
    assert context["eventType"] == "MESSAGE"
    assert context["messageId"]
    assert context["requestId"]
    assert context["messageId"] != context["requestId"]
    assert context["apiId"] == main_api.api_id
    assert context["stage"] == STAGE
    assert context["connectedAt"] <= context["requestTimeEpoch"] <= time.time() * 1000
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    authorizer = context["authorizer"]
    assert authorizer["principalId"] == "user-1"
    assert authorizer["sessionId"] == "session-1"
    assert authorizer["admin"] == "false"
    assert authorizer["level"] == "3"
    assert isinstance(authorizer["integrationLatency"], int)


def test_route_selection(gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        assert _ask(ws, "not json")["route"] == "$default"
        assert _ask(ws, "[1, 2]")["route"] == "$default"
        assert _ask(ws, json.dumps({"action": "$connect"}))["route"] == "$default"
        assert _ask(ws, json.dumps({"action": "ONEWAY"}))["route"] == "$default"
        assert _ask(ws, json.dumps({"action": {"nested": 1}}))["route"] == "$default"


def test_binary_frames_arrive_base64_encoded(gateway: Gateway) -> None:
    payload = bytes(range(256))
    with _connect(gateway) as ws:
        event = _ask(ws, payload)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_one_way_route_drops_the_reply(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        ws.send(json.dumps({"action": "oneway", "n": 1}))
        # The next reply is the one for the following message: oneway answered nothing.
        assert _ask(ws, json.dumps({"action": "after"}))["event"]["body"] == '{"action": "after"}'
        assert len(aws.events_of(connection_id, "oneway")) == 1


def test_two_way_route_without_body_sends_nothing(gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        ws.send(json.dumps({"action": "nobody"}))
        assert _ask(ws, json.dumps({"action": "after"}))["route"] == "$default"


@pytest.mark.parametrize(
    "action",
    [
        "boom",  # the handler raises
        "noperm",  # the function has no resource policy at all
        "otherapi",  # its policy allows another API only
        "crash",  # the worker process dies
        "slow",  # the function outlives its own Timeout (1 s)
    ],
)
def test_integration_failures_answer_internal_server_error(gateway: Gateway, action: str) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        reply = _ask(ws, json.dumps({"action": action}))
        assert reply["message"] == "Internal server error"
        assert reply["connectionId"] == connection_id
        assert reply["requestId"]
        # The failed worker was replaced; the connection and the functions still work.
        assert _ask(ws, json.dumps({"action": "again"}))["route"] == "$default"
        if action == "slow":
            assert _ask(ws, json.dumps({"action": "slow", "sleep": 0.1}), 15) == {"slept": 0.1}


def test_integration_timeout_answers_endpoint_request_timed_out(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        started = time.monotonic()
        reply = _ask(ws, json.dumps({"action": "late", "sleep": 3}))
        # Answered at the 300 ms integration timeout, long before the function returns.
        assert time.monotonic() - started < 2.5
        assert reply == {
            "message": "Endpoint request timed out",
            "connectionId": connection_id,
            "requestId": reply["requestId"],
        }
        # The function itself ran to completion (it is within its own 5 s Timeout): the
        # next invocation waits for the one worker, then runs.
        assert _ask(ws, json.dumps({"action": "late", "sleep": 0}), 15) == {"slept": 0}
        assert len(aws.events_of(connection_id, "slow")) == 2


def test_no_free_worker_answers_internal_server_error_within_the_bound(aws: Aws) -> None:
    """Lambda throttles rather than queueing: an invocation that finds no free worker
    within `queue_timeout` fails, and the route answers as a failed integration."""
    api = Api(aws, "busy")
    api.route("$default", "late", two_way=True)
    _permit(aws, "late", f"{api.execution_arn}/*/*")
    api.stage()
    settings = GatewaySettings(
        api_id=api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        queue_timeout=0.5,
    )

    def holding() -> list[dict[str, Any]]:
        return [
            e
            for e in aws.events()
            if e["kind"] == "slow" and e["event"]["requestContext"]["apiId"] == api.api_id
        ]

    with GatewayThread(settings) as gateway, connect(gateway.ws_url, open_timeout=20) as ws:
        ws.send(json.dumps({"sleep": 3}))  # holds the one worker for 3 s
        deadline = time.monotonic() + 10
        while not holding() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(holding()) == 1
        started = time.monotonic()
        reply = _ask(ws, json.dumps({"sleep": 0}))
        assert time.monotonic() - started < 2.5  # not when the worker frees, at 3 s
        assert reply["message"] == "Internal server error"
        assert reply["connectionId"]
        assert reply["requestId"]
        assert json.loads(ws.recv(timeout=10)) == {"slept": 3}
        assert len(holding()) == 1  # the throttled invocation never ran
        assert _ask(ws, json.dumps({"sleep": 0})) == {"slept": 0}


STUCK_HANDLER = """
import os, pathlib, time

if pathlib.Path(os.environ["MARKER"]).exists():
    time.sleep(60)  # a replacement worker never comes up


def handler(event, context):
    if event.get("crash"):
        pathlib.Path(os.environ["MARKER"]).touch()
        os._exit(1)
    return "ok"
"""


# A worker's start-up budget in the test below: while it must come up, and while it is stuck.
COMES_UP_SECONDS = 10.0
STUCK_SECONDS = 0.3


def test_a_pool_whose_worker_cannot_start_answers_within_the_function_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime, "RESPAWN_ATTEMPTS", 2)
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "stuck.py").write_text(STUCK_HANDLER)
    marker = tmp_path / "marker"
    function = LambdaFunction(
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:stuck",
        name="stuck",
        handler="stuck.handler",
        runtime="python3.12",
        timeout_seconds=2,
        memory_mb=128,
        environment={"MARKER": str(marker)},
        code_sha256="",
        policy=None,
    )
    runtime_dir = make_runtime_dir(tmp_path / "runtime")
    pool = runtime.FunctionPool(
        function,
        task_root=task_root,
        runtime_dir=runtime_dir,
        environment=runtime.lambda_environment(
            function, region=REGION, task_root=task_root, runtime_dir=runtime_dir
        ),
        size=1,
        # Generous while a worker must come up (a busy machine can take over a second to
        # start Python); short only while the replacement is stuck, so it is given up soon.
        init_timeout=COMES_UP_SECONDS,
    )

    def gave_up() -> bool:
        return any("giving up after 2 attempts" in r.getMessage() for r in caplog.records)

    async def scenario() -> None:
        await pool.start()
        pool.init_timeout = STUCK_SECONDS
        try:
            crashed = await pool.invoke({"crash": True}, "r1")
            assert crashed.error is not None
            assert crashed.error.error_type == "Runtime.ExitError"
            started = time.monotonic()
            throttled = await pool.invoke({}, "r2")
            assert time.monotonic() - started < 4  # the 2 s Timeout, not forever
            assert throttled.error is not None
            assert throttled.error.error_type == "TooManyRequestsException"
            # The replacement is retried, then given up: no worker, no retry left running.
            deadline = time.monotonic() + 10
            while not gave_up() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert gave_up()
            assert pool.pids == []
            # Once a worker can start again, the next invocation starts one and runs.
            marker.unlink()
            pool.init_timeout = COMES_UP_SECONDS
            recovered = await pool.invoke({}, "r3")
            assert recovered.result == "ok", recovered.error
        finally:
            await pool.stop()

    with caplog.at_level(logging.WARNING, logger="wslocal.gateway"):
        asyncio.run(scenario())
    assert any("no free worker within 2.00 s" in r.getMessage() for r in caplog.records)


def test_handler_runs_from_the_package_with_its_lambda_environment(
    aws: Aws, gateway: Gateway
) -> None:
    with _connect(gateway) as ws:
        reply = _ask(ws, json.dumps({"action": "inspect"}))
    imports = reply["imports"]
    assert imports["boto3"] is not None  # the Lambda runtime provides boto3
    for absent in ("jwt", "websockets", "wslocal", "ws_bridge", "moto"):
        assert imports[absent] is None, absent  # nothing from the gateway's environment
    environ = reply["environ"]
    assert environ["FLAVOUR"] == "main"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "gw-main"
    assert environ["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "10"
    assert environ["AWS_REGION"] == REGION
    assert environ["AWS_ENDPOINT_URL"] == aws.endpoint
    assert environ["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] == gateway.connections_url
    assert environ["LOCAL_SETTING"] == "from the gateway"
    assert "PYTHONPATH" not in environ
    assert reply["sys_path"][0] == environ["LAMBDA_TASK_ROOT"]
    assert reply["context"]["function_name"] == "gw-main"
    assert 0 < reply["context"]["remaining_ms"] <= 10_000


def _inspect(gateway: Gateway) -> dict[str, str]:
    with _connect(gateway) as ws:
        environ: dict[str, str] = _ask(ws, json.dumps({"action": "inspect"}))["environ"]
    return environ


def _caller(environ: Mapping[str, str]) -> str:
    sts = boto3.client(
        "sts",
        region_name=REGION,
        aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environ["AWS_SESSION_TOKEN"],
    )
    arn: str = sts.get_caller_identity()["Arn"]
    return arn


def test_functions_run_with_temporary_credentials_of_their_role(aws: Aws, gateway: Gateway) -> None:
    environ = _inspect(gateway)
    assert environ["AWS_ACCESS_KEY_ID"].startswith("ASIA")  # issued by sts:AssumeRole
    assert environ["AWS_ACCESS_KEY_ID"] != os.environ["AWS_ACCESS_KEY_ID"]
    assert _caller(environ) == f"arn:aws:sts::{aws.account}:assumed-role/gateway-test/gw-main"


def test_expired_temporary_credentials_are_refused(aws: Aws) -> None:
    from moto.sts.models import sts_backends

    issued = aws.client("sts").assume_role(RoleArn=aws.role_arn, RoleSessionName="expiring")
    credentials = issued["Credentials"]
    sts = boto3.client(
        "sts",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert sts.get_caller_identity()["Arn"].endswith("/gateway-test/expiring")
    for role in sts_backends[aws.account]["aws"].assumed_roles:
        if role.access_key_id == credentials["AccessKeyId"]:
            role.expiration = role.expiration.replace(year=2000)  # the emulator runs in process
    with pytest.raises(ClientError) as refused:
        sts.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "ExpiredToken"


def test_function_credentials_are_renewed_and_workers_replaced(aws: Aws, main_api: Api) -> None:
    settings = GatewaySettings(
        api_id=main_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        credentials_refresh_seconds=1.0,
    )
    with GatewayThread(settings) as running:
        first = _inspect(running)
        deadline = time.monotonic() + 15
        while (later := _inspect(running))["AWS_ACCESS_KEY_ID"] == first["AWS_ACCESS_KEY_ID"]:
            assert time.monotonic() < deadline, "the credentials were never renewed"
            time.sleep(0.5)
        assert _caller(later).endswith(":assumed-role/gateway-test/gw-main")


def test_gateway_credentials_mode_passes_this_process_credentials(aws: Aws, main_api: Api) -> None:
    settings = GatewaySettings(
        api_id=main_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        function_credentials="gateway",
    )
    with GatewayThread(settings) as running:
        assert _inspect(running)["AWS_ACCESS_KEY_ID"] == os.environ["AWS_ACCESS_KEY_ID"]


def _fragments(size: int, frame: int = 32 * 1024) -> list[str]:
    """A text message of `size` bytes as frames of at most `frame` bytes."""
    return ["x" * min(frame, size - at) for at in range(0, size, frame)]


def test_message_over_128_kb_closes_with_1009(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        # API Gateway caps frames at 32 KB, so a message over 32 KB arrives fragmented.
        ws.send(_fragments(LIMIT))
        assert len(json.loads(ws.recv(timeout=15))["event"]["body"]) == LIMIT  # it passes
        # The gateway may close before the last fragment is sent.
        with contextlib.suppress(ConnectionClosed):
            ws.send(_fragments(LIMIT + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1009
    disconnect = aws.wait_for(connection_id, "$disconnect")["event"]["requestContext"]
    assert disconnect["disconnectStatusCode"] == 1009


def test_a_frame_over_32_kb_closes_with_1009(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        frame = 32 * 1024
        ws.send("x" * frame)  # the largest frame passes
        assert len(json.loads(ws.recv(timeout=15))["event"]["body"]) == frame
        with contextlib.suppress(ConnectionClosed):
            ws.send("x" * (frame + 1))  # one message, one frame, well under 128 KB
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1009
    disconnect = aws.wait_for(connection_id, "$disconnect")["event"]["requestContext"]
    assert disconnect["disconnectStatusCode"] == 1009


def test_a_url_over_4096_characters_is_414_before_the_authorizer(
    aws: Aws, gateway: Gateway
) -> None:
    def authorizations() -> int:
        return len([e for e in aws.events() if e["kind"] == "authorize"])

    # `/test?token=good` plus padding: the request target is the URL API Gateway counts.
    base = f"/{STAGE}?token=good&pad="
    longest = "x" * (4096 - len(base))
    before = authorizations()
    with _connect(gateway, f"token=good&pad={longest}") as ws:
        assert _connection_id(ws)
    assert authorizations() == before + 1
    assert _rejection(gateway, f"token=good&pad={longest}x") == 414
    assert authorizations() == before + 1


def test_worker_env_flag_parses_repeated_name_value_pairs() -> None:
    from wslocal.gateway.__main__ import parse_args

    required = ["--api-id", "a", "--stage", "s", "--package-dir", "p"]
    args = parse_args([*required, "--worker-env", "A=1", "--worker-env", "SSL_CERT_FILE=/x=y"])
    assert dict(args.worker_env) == {"A": "1", "SSL_CERT_FILE": "/x=y"}
    for wrong in ("NOEQUALS", "=value", "1A=x", "A-B=x"):
        with pytest.raises(SystemExit):
            parse_args([*required, "--worker-env", wrong])


def test_client_close_fires_disconnect_with_its_code(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        ws.close(code=4000, reason="bye")
    event = aws.wait_for(connection_id, "$disconnect")["event"]
    context = event["requestContext"]
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 4000
    assert context["disconnectReason"] == "bye"
    assert context["authorizer"]["principalId"] == "user-1"


# -- @connections ---------------------------------------------------------------------------


def test_connections_post_get_delete(aws: Aws, gateway: Gateway) -> None:
    client = _management(gateway)
    with _connect(gateway, "token=good", user_agent_header="probe-agent/1") as ws:
        connection_id = _connection_id(ws)
        before = time.time()

        client.post_to_connection(ConnectionId=connection_id, Data=b'{"pushed": true}')
        assert json.loads(ws.recv(timeout=5)) == {"pushed": True}
        client.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert ws.recv(timeout=5) == b"\xff\x00"

        status = client.get_connection(ConnectionId=connection_id)
        assert status["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "probe-agent/1"}
        assert status["ConnectedAt"].timestamp() <= before
        assert status["LastActiveAt"] >= status["ConnectedAt"]

        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"x" * (LIMIT + 1))

        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1000
        context = aws.wait_for(connection_id, "$disconnect")["event"]["requestContext"]
        assert context["disconnectStatusCode"] == 1000
        for call in (client.post_to_connection, client.get_connection, client.delete_connection):
            arguments: dict[str, Any] = {"ConnectionId": connection_id}
            if call == client.post_to_connection:
                arguments["Data"] = b"late"
            with pytest.raises(client.exceptions.GoneException):
                call(**arguments)


def test_connections_unknown_id_is_gone(gateway: Gateway) -> None:
    client = _management(gateway)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="a/b+c==")


def test_connections_calls_must_be_signed(gateway: Gateway) -> None:
    request = urllib.request.Request(  # noqa: S310 - a local http URL
        f"{gateway.connections_url}/@connections/AAAAAAAAAAAAAAA%3D", data=b"x", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert caught.value.code == 403


def _management_as(gateway: Gateway, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.connections_url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def _user_allowed(aws: Aws, name: str, resource: str) -> tuple[str, str]:
    """An IAM user allowed execute-api:ManageConnections on `resource`; its key."""
    iam = aws.client("iam")
    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": resource}
    iam.put_user_policy(
        UserName=name,
        PolicyName="push",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_connections_refuses_a_wrong_secret(gateway: Gateway) -> None:
    client = _management_as(gateway, "testing", "not-the-secret")
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        with pytest.raises(ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"forged")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert refused.value.response["Error"]["Code"] == "ForbiddenException"
        _management(gateway).post_to_connection(ConnectionId=connection_id, Data=b"signed")
        assert ws.recv(timeout=5) == "signed"  # the forged message never arrived


def test_connections_requires_manage_connections_on_this_stage(
    aws: Aws, gateway: Gateway, main_api: Api
) -> None:
    stage_arn = f"{main_api.execution_arn}/{STAGE}"
    pusher = _management_as(gateway, *_user_allowed(aws, "pusher", f"{stage_arn}/POST/*"))
    elsewhere = _management_as(
        gateway, *_user_allowed(aws, "elsewhere", f"{main_api.execution_arn}/prod/*")
    )
    with _connect(gateway) as ws:
        connection_id = _connection_id(ws)
        pusher.post_to_connection(ConnectionId=connection_id, Data=b"allowed")
        assert ws.recv(timeout=5) == "allowed"
        for call in (
            lambda: pusher.get_connection(ConnectionId=connection_id),  # POST only
            lambda: elsewhere.post_to_connection(ConnectionId=connection_id, Data=b"x"),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "ForbiddenException"
            assert "execute-api:ManageConnections" in refused.value.response["Error"]["Message"]
    # permission is checked before the connection is looked up
    with pytest.raises(ClientError) as refused:
        elsewhere.delete_connection(ConnectionId="AAAAAAAAAAAAAAA=")
    assert refused.value.response["Error"]["Code"] == "ForbiddenException"
    with pytest.raises(pusher.exceptions.GoneException):
        pusher.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")


def test_a_custom_domain_mapping_serves_its_base_path(aws: Aws, main_api: Api) -> None:
    domain = "ws.example.test"
    apigw = aws.client("apigatewayv2")
    apigw.create_domain_name(
        DomainName=domain,
        DomainNameConfigurations=[
            {"CertificateArn": f"arn:aws:acm:{REGION}:{aws.account}:certificate/x"}
        ],
    )
    apigw.create_api_mapping(
        DomainName=domain, ApiId=main_api.api_id, Stage=STAGE, ApiMappingKey="chat"
    )
    settings = GatewaySettings(
        api_id=main_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        domain_name=domain,
    )
    with GatewayThread(settings) as running:
        assert running.domain_ws_url is not None
        assert running.domain_ws_url.endswith("/chat")
        assert running.domain_connections_url is not None
        with connect(f"{running.domain_ws_url}?token=good", open_timeout=20) as ws:
            reply = _ask(ws, json.dumps({"action": "whoami"}))
            context = reply["event"]["requestContext"]
            assert (context["domainName"], context["stage"]) == (domain, STAGE)
            # SDKs append /@connections to the domain's callback URL: https://domain/chat
            client = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=running.domain_connections_url,
                region_name=REGION,
            )
            client.post_to_connection(ConnectionId=context["connectionId"], Data=b"via domain")
            assert ws.recv(timeout=5) == "via domain"
        with pytest.raises(InvalidStatus) as caught:
            connect(f"ws://127.0.0.1:{running.ws_port}/other?token=good", open_timeout=20)
        assert caught.value.response.status_code == 403
        # the execute-api path still serves the stage
        with connect(f"{running.ws_url}?token=good", open_timeout=20) as ws:
            context = _ask(ws, json.dumps({"action": "whoami"}))["event"]["requestContext"]
            assert context["domainName"] == f"{main_api.api_id}.execute-api.{REGION}.amazonaws.com"
    apigw.create_domain_name(
        DomainName="other.example.test",
        DomainNameConfigurations=[
            {"CertificateArn": f"arn:aws:acm:{REGION}:{aws.account}:certificate/x"}
        ],
    )
    unmapped = GatewaySettings(
        api_id=main_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        domain_name="other.example.test",
    )
    with pytest.raises(GatewayError, match="no API mapping"):
        asyncio.run(Gateway(unmapped).start())


def test_connections_call_during_connect_is_gone(aws: Aws, gateway: Gateway) -> None:
    with _connect(gateway, "token=good&probe=connections") as ws:
        connection_id = _connection_id(ws)
    assert aws.wait_for(connection_id, "$connect")["event"]["probe"] == "GoneException"


# -- other APIs --------------------------------------------------------------------------------


def test_connect_without_invoke_permission_is_500(aws: Aws) -> None:
    api = Api(aws, "denied-connect")
    api.route("$connect", "noperm")
    api.route("$default", "main", two_way=True)
    _permit(aws, "main", f"{api.execution_arn}/*/*")
    api.stage()
    settings = GatewaySettings(
        api_id=api.api_id, stage=STAGE, package_dirs=(aws.package_dir,), workers=1
    )
    with GatewayThread(settings) as gateway:
        assert _rejection(gateway, "") == 500


def test_no_matching_route_and_no_default_is_forbidden(aws: Aws, plain_api: Api) -> None:
    settings = GatewaySettings(
        api_id=plain_api.api_id, stage=STAGE, package_dirs=(aws.package_dir,), workers=1
    )
    with GatewayThread(settings) as gateway, connect(gateway.ws_url, open_timeout=10) as ws:
        assert _ask(ws, json.dumps({"action": "echo"}))["route"] == "echo"
        for message in (json.dumps({"action": "other"}), "not json", b"\x00"):
            reply = _ask(ws, message)
            assert reply["message"] == "Forbidden"
            assert reply["connectionId"]
            assert reply["requestId"]


def _closed_after(
    ws: ClientConnection, started: float, closes: dict[str, float], name: str
) -> None:
    """Receive until `ws` closes; record when, counted from `started`."""
    try:
        while True:
            ws.recv()
    except ConnectionClosed:
        closes[name] = time.monotonic() - started


def test_idle_timeout_and_maximum_duration(aws: Aws, plain_api: Api) -> None:
    settings = GatewaySettings(
        api_id=plain_api.api_id,
        stage=STAGE,
        package_dirs=(aws.package_dir,),
        workers=1,
        idle_timeout=3.0,
        max_duration=8.0,
    )
    closes: dict[str, float] = {}
    with (
        GatewayThread(settings) as gateway,
        connect(gateway.ws_url, open_timeout=10) as idle,
        connect(gateway.ws_url, open_timeout=10) as busy,
    ):
        idle_id = _ask(idle, json.dumps({"action": "echo"}))["event"]["requestContext"][
            "connectionId"
        ]
        started = time.monotonic()
        watchers = [
            threading.Thread(target=_closed_after, args=(ws, started, closes, name), daemon=True)
            for name, ws in (("idle", idle), ("busy", busy))
        ]
        for watcher in watchers:
            watcher.start()
        # Busy: a message every 0.5 s, never idle for 3 s, until the gateway closes it.
        while "busy" not in closes and time.monotonic() - started < 15:
            try:
                busy.send(json.dumps({"action": "echo"}))
            except ConnectionClosed:
                break
            time.sleep(0.5)
        for watcher in watchers:
            watcher.join(timeout=15)
        assert idle.close_code == 1001
        assert 1.5 < closes["idle"] < 4.5
        assert busy.close_code == 1001
        assert 6.5 < closes["busy"] < 9.5
    context = aws.wait_for(idle_id, "$disconnect")["event"]["requestContext"]
    assert context["disconnectStatusCode"] == 1001


def test_start_fails_when_no_package_matches(aws: Aws, plain_api: Api, tmp_path: Path) -> None:
    (tmp_path / "other.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    settings = GatewaySettings(api_id=plain_api.api_id, stage=STAGE, package_dirs=(tmp_path,))
    with pytest.raises(GatewayError, match="CodeSha256"):
        GatewayThread(settings).start()


def test_start_fails_without_the_stage(aws: Aws, plain_api: Api) -> None:
    settings = GatewaySettings(
        api_id=plain_api.api_id, stage="missing", package_dirs=(aws.package_dir,)
    )
    with pytest.raises(GatewayError, match="no stage 'missing'"):
        GatewayThread(settings).start()


# -- the command line -------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_cli_serves_until_sigterm_and_leaves_no_process(aws: Aws, plain_api: Api) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "lambda"), str(REPO / "local")]),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wslocal.gateway",
            "--api-id",
            plain_api.api_id,
            "--stage",
            STAGE,
            "--package-dir",
            str(aws.package_dir),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[:2] == ["gateway", "ready"], ready
        fields = dict(part.split("=", 1) for part in ready[2:])
        assert fields["ws"].endswith(f"/{STAGE}")
        assert fields["connections"].startswith("http://127.0.0.1:")
        workers = _children(process.pid)
        assert len(workers) == 2  # one function, two warm workers
        with connect(fields["ws"], open_timeout=10) as ws:
            connection_id = _ask(ws, json.dumps({"action": "echo"}))["event"]["requestContext"][
                "connectionId"
            ]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
            assert ws.close_code == 1001
        context = aws.wait_for(connection_id, "$disconnect", timeout=1)["event"]["requestContext"]
        assert context["disconnectStatusCode"] == 1001
        assert not [pid for pid in workers if _running(pid)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_reports_a_start_failure(aws: Aws, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "wslocal.gateway",
            "--api-id",
            "nosuchapi",
            "--stage",
            STAGE,
            "--package-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "local")},
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "nosuchapi" in completed.stderr


def test_subprotocol_not_offered_fails_the_client(gateway: Gateway) -> None:
    """$connect answering a subprotocol the client did not offer is passed through: the
    client refuses the handshake, as browsers do with API Gateway."""
    with pytest.raises(InvalidHandshake):
        _connect(gateway, additional_headers={"X-Force-Subprotocol": "chat"}).close()


# -- Lambda layers ------------------------------------------------------------------------------


def _zip(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _where(label: str) -> str:
    return f"WHERE = {label!r}\n"


LAYERED_HANDLER = """
import json, os, sys
import deep, only_in_layer, overlay, shared, six, sitefirst
from pkg import a, b

def handler(event, context):
    modules = [deep, only_in_layer, overlay, shared, six, sitefirst, a, b]
    return {
        "statusCode": 200,
        "body": json.dumps({
            "modules": {m.__name__: m.WHERE for m in modules},
            "sys_path": sys.path,
            "task_root": os.environ["LAMBDA_TASK_ROOT"],
            "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        }),
    }
"""
SITE = "python/lib/python3.12/site-packages"
FIRST_LAYER = {
    "python/only_in_layer.py": _where("first"),
    "python/shared.py": _where("first"),
    "python/overlay.py": _where("first"),
    "python/sitefirst.py": _where("first python/"),
    "python/pkg/__init__.py": "",
    "python/pkg/a.py": _where("first"),
}
SECOND_LAYER = {
    "python/overlay.py": _where("second"),
    "python/pkg/__init__.py": "",
    "python/pkg/b.py": _where("second"),
    f"{SITE}/deep.py": _where("second site-packages"),
    f"{SITE}/sitefirst.py": _where("second site-packages"),
    f"{SITE}/six.py": _where("second"),  # the runtime provides six too
}


def _deploy(
    aws: Aws,
    directory: Path,
    name: str,
    code: bytes,
    handler: str,
    layers: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
) -> None:
    """Create function `name` from `code` (written to `directory` as the gateway's package)
    with `layers` (layer version ARNs)."""
    (directory / f"{name}.zip").write_bytes(code)
    aws.functions[name] = aws.client("lambda").create_function(
        FunctionName=f"gw-{name}",
        Runtime="python3.12",
        Role=aws.role_arn,
        Handler=handler,
        Code={"ZipFile": code},
        Timeout=10,
        Layers=list(layers),
        Environment={"Variables": dict(variables or {"EVENT_LOG": str(aws.event_log)})},
    )["FunctionArn"]


def _publish_layer(aws: Aws, name: str, content: bytes) -> str:
    arn: str = aws.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": content}, CompatibleRuntimes=["python3.12"]
    )["LayerVersionArn"]
    return arn


def _unsupported_operation(self: LambdaResponse) -> str:
    raise NotImplementedError("GetLayerVersionByArn")


@pytest.mark.parametrize("by_arn", [True, False], ids=["GetLayerVersionByArn", "GetLayerVersion"])
def test_layers_sit_between_the_package_and_the_runtime_in_lambda_order(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_arn: bool
) -> None:
    """The handler imports modules its zip lacks from two layers: the package wins over
    them, a later layer's file replaces an earlier one's, package folders merge,
    site-packages comes before python/, and layers come before the runtime's packages.
    The layers' zips are found through GetLayerVersionByArn, or through GetLayerVersion
    where the control plane does not answer it (plain moto)."""
    asked: list[str] = []

    def by_arn_counted(self: LambdaResponse) -> str:
        asked.append(self.querystring["Arn"][0])
        return get_layer_version_by_arn(self)

    operation = by_arn_counted if by_arn else _unsupported_operation
    monkeypatch.setattr(LambdaResponse, "get_layer_version_by_arn", operation, raising=False)
    suffix = "byarn" if by_arn else "fallback"
    first, second = _zip(FIRST_LAYER), _zip(SECOND_LAYER)
    (tmp_path / "first.zip").write_bytes(first)
    (tmp_path / "second.zip").write_bytes(second)
    layers = [
        _publish_layer(aws, f"first-{suffix}", first),
        _publish_layer(aws, f"second-{suffix}", second),
    ]
    code = _zip({"layered.py": LAYERED_HANDLER, "shared.py": _where("function")})
    _deploy(aws, tmp_path, f"layered-{suffix}", code, "layered.handler", layers)
    api = Api(aws, f"layers-{suffix}")
    api.route("$default", f"layered-{suffix}", two_way=True)
    _permit(aws, f"layered-{suffix}", f"{api.execution_arn}/*/*")
    api.stage()

    settings = GatewaySettings(api_id=api.api_id, stage=STAGE, package_dirs=(tmp_path,), workers=1)
    with GatewayThread(settings) as gateway, connect(gateway.ws_url, open_timeout=10) as ws:
        reply = _ask(ws, "which modules?")

    assert reply["modules"] == {
        "shared": "function",  # the package comes first
        "only_in_layer": "first",
        "overlay": "second",  # the later layer's file replaces the earlier one's
        "pkg.a": "first",  # folders of both layers merge
        "pkg.b": "second",
        "deep": "second site-packages",
        "sitefirst": "second site-packages",  # python/lib/python3.12/site-packages first
        "six": "second",  # layers come before the runtime's packages
    }
    sys_path = reply["sys_path"]
    assert sys_path[0] == reply["task_root"]
    assert sys_path[1].endswith(f"/{SITE}")
    assert sys_path[2] == sys_path[1].removesuffix(f"/{SITE}") + "/python"
    assert sys_path[3] == reply["runtime_dir"]
    assert sorted(asked) == (sorted(layers) if by_arn else [])


def test_start_fails_when_no_zip_matches_a_layer(aws: Aws, tmp_path: Path) -> None:
    content = _zip({"python/unbuilt.py": _where("layer")})
    layer = _publish_layer(aws, "unbuilt", content)
    code = _zip({"h.py": "def h(e, c): return {}"})
    _deploy(aws, tmp_path, "needs-layer", code, "h.h", [layer])  # the function's zip is there
    api = Api(aws, "missing-layer")
    api.route("$default", "needs-layer")
    _permit(aws, "needs-layer", f"{api.execution_arn}/*/*")
    api.stage()
    settings = GatewaySettings(api_id=api.api_id, stage=STAGE, package_dirs=(tmp_path,))
    with pytest.raises(GatewayError) as caught:
        GatewayThread(settings).start()
    message = str(caught.value)
    layer_sha = base64.b64encode(hashlib.sha256(content).digest()).decode()
    function_sha = base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert f"layer {layer} of gw-needs-layer (CodeSha256 {layer_sha})" in message
    assert function_sha not in message


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        if self.path != "/jwks.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A JWKS with one RS256 key (kid "k1") on a local http server, and its private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(kid="k1", use="sig", alg="RS256")
    handler = type("Jwks", (_JwksHandler,), {"body": json.dumps({"keys": [jwk]}).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_shipped_authorizer_verifies_rs256_with_the_shipped_crypto_layer(
    aws: Aws, jwks_url: tuple[str, rsa.RSAPrivateKey]
) -> None:
    """packages/ws_bridge.zip as the authorizer with JWT_ALGORITHMS=RS256 imports
    cryptography from the shipped layer in its isolated worker; without the layer the
    same function cannot start (its cold start refuses asymmetric algorithms)."""
    url, key = jwks_url
    arch = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    packages = REPO / "packages"
    layer = _publish_layer(
        aws, "jwt-crypto", (packages / f"jwt-crypto-layer-python3.12-{arch}.zip").read_bytes()
    )
    code = (packages / "ws_bridge.zip").read_bytes()
    variables = {"JWT_ALGORITHMS": "RS256", "JWT_JWKS_URL": url}
    client = aws.client("lambda")
    apis: dict[bool, Api] = {}
    for with_layer in (True, False):
        name = "rs-auth" if with_layer else "rs-auth-nolayer"
        aws.functions[name] = client.create_function(
            FunctionName=f"gw-{name}",
            Runtime="python3.12",
            Role=aws.role_arn,
            Handler="ws_bridge.authorizer.handler",
            Code={"ZipFile": code},
            Timeout=10,
            Layers=[layer] if with_layer else [],
            Environment={"Variables": variables},
        )["FunctionArn"]
        api = Api(aws, name)
        api.route("$connect", "main", authorizer_id=api.authorizer(name))
        api.route("$default", "main", two_way=True)
        _permit(aws, "main", f"{api.execution_arn}/*/*")
        api.stage()
        apis[with_layer] = api

    now = int(time.time())
    claims = {"sub": "rs-user", "sessionId": "lab-9", "iat": now, "exp": now + 300}
    rs256 = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"})
    hs256 = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": "k1"})

    package_dirs = (aws.package_dir, packages)
    settings = GatewaySettings(
        api_id=apis[True].api_id, stage=STAGE, package_dirs=package_dirs, workers=1
    )
    with GatewayThread(settings) as gateway:
        with _connect(gateway, f"token={rs256}") as ws:
            authorizer = _ask(ws, json.dumps({"action": "who"}))["event"]["requestContext"][
                "authorizer"
            ]
        assert authorizer["principalId"] == "rs-user"
        assert authorizer["userId"] == "rs-user"
        assert authorizer["sessionId"] == "lab-9"
        assert authorizer["sessionSource"] == "token"
        assert _rejection(gateway, f"token={forged}") == 401  # bad signature
        assert _rejection(gateway, f"token={hs256}") == 401  # algorithm not allowed

    settings = GatewaySettings(
        api_id=apis[False].api_id, stage=STAGE, package_dirs=package_dirs, workers=1
    )
    with GatewayThread(settings) as gateway:
        assert _rejection(gateway, f"token={rs256}") == 500  # the authorizer cannot start
