"""The local stack holds every caller to the permissions it would have on AWS.

The functions run with temporary credentials of their own roles and the reference backend
with the role examples/local gives it (the module's backend policy output); the emulator
decides IAM for those credentials as AWS does (wslocal.emulator.iam), and the gateway asks
it about `@connections` callers. Each test takes one permission away, by removing its
statement or by narrowing its condition so that AWS would refuse this use, sees the local
run fail where AWS would, then gives it back. test_enforcement_keys.py does the same with
customer managed keys.
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from enforcement_support import (
    Policies,
    handshake,
    logs,
    push,
    restart,
    role_client,
)
from stack_support import StackHandle, running_stack
from websockets.sync.client import connect

from ws_bridge_backend.keys import SecretsManagerKeys

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# Statements nothing in a local run exercises: Lambda writes the functions' logs and traces
# itself, and the local gateway makes no CloudWatch Logs or X-Ray calls. They are checked
# at plan time (tests/terraform/functions.tftest.hcl) and by docs/local-fidelity.md.
NOT_EXERCISED_LOCALLY = {"WriteOwnLogGroup", "WriteTraces"}


@pytest.fixture(scope="module")
def enforced() -> Iterator[StackHandle]:
    with running_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def policies(enforced: StackHandle) -> Policies:
    return Policies(enforced.local)


def stale_record(stack: StackHandle, connection_id: str) -> None:
    """A record of a connection that is gone ($disconnect never arrived)."""
    stack.local.client("dynamodb").put_item(
        TableName=stack.local.outputs.table_name,
        Item={
            "connectionId": {"S": connection_id},
            "sessionId": {"S": "lab-1"},
            "userId": {"S": "alice"},
            # Older than push's grace for a $connect still running (GONE_GRACE_SECONDS).
            "connectedAt": {"N": str(int((time.time() - 600) * 1000))},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )


def record_ids(stack: StackHandle) -> set[str]:
    return {item["connectionId"]["S"] for item in stack.records()}


def test_every_statement_of_every_role_has_a_case_here(policies: Policies) -> None:
    """A statement the module adds later must get its own case (or a reason it has none)."""
    covered = {
        policies.handler: {"ConnectionRecords", "ReadSigningSecret", "CloseExpiredConnections"},
        policies.authorizer: {"ReadJwtSecret"},
        policies.backend: {
            "ManageConnections", "FindConnections", "DeleteStaleConnections", "ReadSigningSecret",
        },
    }  # fmt: skip
    for role, cases in covered.items():
        assert set(policies.sids(role)) - NOT_EXERCISED_LOCALLY == cases, role


def test_the_handler_needs_its_records_statement_as_granted(
    enforced: StackHandle, policies: Policies
) -> None:
    assert handshake(enforced)[0] == 101
    vpc_only = {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}
    for change in (
        policies.without(policies.handler, "ConnectionRecords"),
        policies.narrowed(policies.handler, "ConnectionRecords", vpc_only),  # not via that endpoint
    ):
        with change:
            status, body = handshake(enforced)
            assert (status, json.loads(body)) == (500, {"error": "registry_error"})
    assert handshake(enforced)[0] == 101


def test_the_handler_and_authorizer_need_their_secrets(
    enforced: StackHandle, policies: Policies
) -> None:
    """A cold start (the gateway restarted) reads the secrets again, as on Lambda."""
    previous_only = {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}}
    current_only = {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}
    cases = [
        (policies.without(policies.handler, "ReadSigningSecret"), 502),
        # The handler reads AWSCURRENT, without naming a stage.
        (policies.narrowed(policies.handler, "ReadSigningSecret", previous_only), 502),
        (policies.without(policies.authorizer, "ReadJwtSecret"), 500),
        # The authorizer also reads AWSPREVIOUS, so that a rotation refuses nobody.
        (policies.narrowed(policies.authorizer, "ReadJwtSecret", current_only), 500),
    ]
    for change, status in cases:
        mark = logs(enforced).mark()
        with change:
            restart(enforced, "gateway")
            assert handshake(enforced)[0] == status
        emulator = logs(enforced).since(mark)["emulator.log"]
        assert "secretsmanager:GetSecretValue" in emulator
        restart(enforced, "gateway")
        assert handshake(enforced)[0] == 101


def test_the_handler_may_tell_and_close_connections_of_its_stage_only(
    enforced: StackHandle, policies: Policies
) -> None:
    handler = role_client(
        enforced, policies.handler, "apigatewaymanagementapi", endpoint_url=enforced.connections_url
    )
    with connect(enforced.url(enforced.token()), open_timeout=25, proxy=None) as ws:
        ws.send(json.dumps({"type": "command", "command": "whoami"}))
        connection_id = json.loads(ws.recv(timeout=15))["connectionId"]
        handler.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "bye"}')
        assert json.loads(ws.recv(timeout=10)) == {"type": "bye"}
        with pytest.raises(ClientError) as inspect:  # GET is the backend's
            handler.get_connection(ConnectionId=connection_id)
        assert inspect.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with policies.without(policies.handler, "CloseExpiredConnections"):
            with pytest.raises(ClientError) as refused:
                handler.post_to_connection(ConnectionId=connection_id, Data=b"x")
            assert "execute-api:ManageConnections" in str(refused.value)
        handler.delete_connection(ConnectionId=connection_id)


def test_the_backend_pushes_with_the_module_policy_and_fails_without_it(
    enforced: StackHandle, policies: Policies
) -> None:
    backend = policies.backend
    elsewhere = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    other_session = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["lab-2"]}}
    # The counts below are this test's one connection: the records of the connections the
    # tests before closed go with their $disconnect, which runs after the close.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        item["sessionId"]["S"] == "lab-1" for item in enforced.records()
    ):
        time.sleep(0.1)
    with connect(enforced.url(enforced.token()), open_timeout=25, proxy=None) as ws:
        pushed = push(enforced)
        assert pushed["sent"] == 1
        assert json.loads(ws.recv(timeout=10)) == {"seq": pushed["seq"], "type": "notice"}
        for change in (
            policies.without(backend, "ManageConnections"),
            policies.narrowed(backend, "ManageConnections", elsewhere),
        ):
            with change:
                outcome = push(enforced)
                assert (outcome["sent"], outcome["failed"]) == (0, 1)
        for change in (
            policies.without(backend, "FindConnections"),
            policies.narrowed(backend, "FindConnections", other_session),
        ):
            with change, pytest.raises(urllib.error.HTTPError) as failed:
                push(enforced)  # the connections of the session cannot be looked up
            assert failed.value.code >= 500
        assert push(enforced)["sent"] == 1


def test_the_backend_deletes_stale_records_only_with_its_statement(
    enforced: StackHandle, policies: Policies
) -> None:
    other_session = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["someone-else"]}}
    for index, change in enumerate(
        (
            policies.without(policies.backend, "DeleteStaleConnections"),
            policies.narrowed(policies.backend, "DeleteStaleConnections", other_session),
        )
    ):
        stale = f"stale-{index}-AAAAAAA="
        stale_record(enforced, stale)
        with change:
            push(enforced)
            assert stale in record_ids(enforced)  # 410, but the record stays
        push(enforced)
        assert stale not in record_ids(enforced)


def test_the_backend_reads_the_signing_key_with_its_statement_only(
    enforced: StackHandle, policies: Policies
) -> None:
    """The backend's verifier reads AWSCURRENT and AWSPREVIOUS, with the backend's role."""
    secret = enforced.local.outputs.backend_signing_secret_arn
    assert secret is not None
    current_only = {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}

    def load() -> list[bytes]:
        client = role_client(enforced, policies.backend, "secretsmanager")
        return list(SecretsManagerKeys(secret, client=client).current())

    assert len(load()) == 1
    for change in (
        policies.without(policies.backend, "ReadSigningSecret"),
        policies.narrowed(policies.backend, "ReadSigningSecret", current_only),
    ):
        with change, pytest.raises(ClientError) as refused:
            load()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "secretsmanager:GetSecretValue" in str(refused.value)
    assert len(load()) == 1


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
