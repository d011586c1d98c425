"""The local stack holds every caller to the permissions it would have on AWS.

The functions run with temporary credentials of their own roles and the reference backend
pushes with the role examples/local gives it (the module's backend policy output); the
emulator evaluates IAM for those credentials, and the gateway checks `@connections` callers.
Each test takes one permission away and sees the local run fail where AWS would fail,
then gives it back.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from stack_support import SESSIONS, StackHandle
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from wslocal.stack import (
    Service,
    Stack,
    StackConfig,
    StackInfo,
    backend_service,
    distinct_free_ports,
    gateway_service,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def backend_with_role() -> Service:
    """The reference backend, pushing with the `backend_role_arn` role of examples/local."""
    plain = backend_service(SESSIONS)

    def argv(info: StackInfo) -> list[str]:
        return [*plain.argv(info), "--role-arn", str(info.outputs.raw["backend_role_arn"])]

    return Service(plain.name, argv, plain.port, plain.ready_timeout_seconds)


@pytest.fixture(scope="module")
def enforced() -> Iterator[StackHandle]:
    emulator_port, gateway_port, backend_port, connections_port = distinct_free_ports()
    config = StackConfig(
        emulator_port=emulator_port,
        gateway_port=gateway_port,
        backend_port=backend_port,
        connections_port=connections_port,
        services=(backend_with_role(), gateway_service()),
    )
    with Stack(config) as local:
        stage = local.outputs.stage_name
        yield StackHandle(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway_port}/{stage}",
            backend_url=f"http://127.0.0.1:{backend_port}",
            connections_url=f"http://127.0.0.1:{connections_port}/{stage}",
        )


def handshake(stack: StackHandle) -> tuple[int, bytes]:
    """The upgrade's status (101: opened, then closed) and the refusal's body."""
    try:
        with connect(stack.url(stack.token()), open_timeout=25, close_timeout=5, proxy=None):
            return 101, b""
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.body or b""


def role_name(stack: StackHandle, function_name: str) -> str:
    configuration = stack.local.client("lambda").get_function_configuration(
        FunctionName=function_name
    )
    return str(configuration["Role"]).rsplit("/", 1)[-1]


@contextmanager
def without_action(stack: StackHandle, role: str, action: str) -> Iterator[None]:
    """`role`'s inline policies without `action` (its statements otherwise intact)."""
    iam = stack.local.client("iam")
    originals: dict[str, str] = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        originals[name] = document if isinstance(document, str) else json.dumps(document)
    removed = 0
    for name, original in originals.items():
        document = json.loads(original)
        statements = document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action")
            listed = actions if isinstance(actions, list) else [actions]
            if action in listed:
                statement["Action"] = [a for a in listed if a != action]
                removed += 1
        document["Statement"] = [s for s in document["Statement"] if s.get("Action") != []]
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert removed, f"no inline policy of {role} allows {action}"
    try:
        yield
    finally:
        for name, original in originals.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=original)


def push(stack: StackHandle) -> dict[str, Any]:
    answer: dict[str, Any] = stack.backend("POST", "/api/push/session/lab-1", {"type": "notice"})
    return answer


def test_a_handler_role_without_putitem_fails_connect_with_the_registry_error(
    enforced: StackHandle,
) -> None:
    assert handshake(enforced)[0] == 101
    handler_role = role_name(enforced, enforced.local.outputs.connection_handler_function_name)
    with without_action(enforced, handler_role, "dynamodb:PutItem"):
        status, body = handshake(enforced)
        assert status == 500
        assert json.loads(body) == {"error": "registry_error"}
    assert handshake(enforced)[0] == 101


def test_the_backend_pushes_with_the_module_policy_and_fails_without_it(
    enforced: StackHandle,
) -> None:
    backend_role = str(enforced.local.outputs.raw["backend_role_arn"]).rsplit("/", 1)[-1]
    with connect(enforced.url(enforced.token()), open_timeout=25, proxy=None) as ws:
        assert push(enforced)["sent"] == 1
        assert json.loads(ws.recv(timeout=10)) == {"type": "notice"}
        with without_action(enforced, backend_role, "execute-api:ManageConnections"):
            outcome = push(enforced)
            assert (outcome["sent"], outcome["failed"]) == (0, 1)
        with (
            without_action(enforced, backend_role, "dynamodb:Query"),
            pytest.raises(urllib.error.HTTPError) as failed,
        ):
            push(enforced)  # the connections of the session cannot be looked up
        assert failed.value.code >= 500
        assert push(enforced)["sent"] == 1


def test_connections_callers_need_the_right_secret(enforced: StackHandle) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=enforced.connections_url,
        region_name=enforced.local.config.region,
        aws_access_key_id="test",
        aws_secret_access_key="wrong",
    )
    with connect(enforced.url(enforced.token()), open_timeout=25, proxy=None) as ws:
        ws.send(json.dumps({"type": "command", "command": "whoami"}))
        connection_id = json.loads(ws.recv(timeout=15))["connectionId"]
        with pytest.raises(ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"forged")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
