"""KMS behind every encrypted read, as on AWS: examples/local with one customer managed key
(`customer_managed_key = true`, its key policy delegating to IAM as in examples/complete)
on the connections table, the request-signing secret and the JWT secret.

Secrets Manager and DynamoDB call KMS on the caller's behalf, so each role needs its
`kms:Decrypt` statement, through the right service (`kms:ViaService`). Each test removes
one such statement, or narrows its `kms:ViaService` to another service, and sees the local
run fail as AWS would, the emulator's log naming the denied KMS action and key.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator

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

from ws_bridge_backend.keys import SecretsManagerKeys

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def keyed() -> Iterator[StackHandle]:
    with running_stack(customer_managed_key=True) as stack:
        key = str(stack.local.outputs.raw["kms_key_arn"])
        # The stack creates the JWT secret before Terraform runs: encrypt it with the key the
        # module's authorizer is told about (jwt.secret_kms_key_arn).
        stack.local.client("secretsmanager").update_secret(
            SecretId=stack.local.jwt_secret_arn, KmsKeyId=key
        )
        restart(stack, "gateway")
        yield stack


@pytest.fixture(scope="module")
def policies(keyed: StackHandle) -> Policies:
    return Policies(keyed.local)


def key_of(stack: StackHandle) -> str:
    return str(stack.local.outputs.raw["kms_key_arn"])


def via(stack: StackHandle, service: str) -> dict[str, dict[str, list[str]]]:
    region = stack.local.config.region
    return {"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com"]}}


def denied_kms(stack: StackHandle, text: str) -> None:
    """The emulator's log names the KMS action denied, on this key, through which service."""
    assert "kms:Decrypt" in text, text[-3000:]
    assert key_of(stack) in text
    assert "Access to KMS is not allowed" in text


def test_everything_works_with_the_module_statements(keyed: StackHandle) -> None:
    table = keyed.local.client("dynamodb").describe_table(TableName=keyed.local.outputs.table_name)[
        "Table"
    ]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key_of(keyed)
    assert handshake(keyed)[0] == 101
    assert push(keyed)["failed"] == 0


def test_the_signing_secret_needs_kms_decrypt_through_secrets_manager(
    keyed: StackHandle, policies: Policies
) -> None:
    for change in (
        policies.without(policies.handler, "DecryptSigningSecret"),
        policies.narrowed(policies.handler, "DecryptSigningSecret", via(keyed, "dynamodb")),
    ):
        mark = logs(keyed).mark()
        with change:
            restart(keyed, "gateway")  # a cold start: the key is read again
            status, _ = handshake(keyed)
            assert status == 502  # the handler cannot sign its validate call
        denied_kms(keyed, logs(keyed).since(mark)["emulator.log"])
        restart(keyed, "gateway")
        assert handshake(keyed)[0] == 101


def test_the_jwt_secret_needs_kms_decrypt_through_secrets_manager(
    keyed: StackHandle, policies: Policies
) -> None:
    for change in (
        policies.without(policies.authorizer, "DecryptJwtSecret"),
        policies.narrowed(policies.authorizer, "DecryptJwtSecret", via(keyed, "ssm")),
    ):
        mark = logs(keyed).mark()
        with change:
            restart(keyed, "gateway")
            assert handshake(keyed)[0] == 500  # the key cannot be read: retry later
        denied_kms(keyed, logs(keyed).since(mark)["emulator.log"])
        restart(keyed, "gateway")
        assert handshake(keyed)[0] == 101


def test_the_table_needs_its_key_through_dynamodb(keyed: StackHandle, policies: Policies) -> None:
    for change in (
        policies.without(policies.handler, "UseTableKeyThroughDynamoDB"),
        policies.narrowed(
            policies.handler, "UseTableKeyThroughDynamoDB", via(keyed, "secretsmanager")
        ),
    ):
        mark = logs(keyed).mark()
        with change:
            status, body = handshake(keyed)
            assert (status, json.loads(body)) == (500, {"error": "registry_error"})
        denied_kms(keyed, logs(keyed).since(mark)["emulator.log"])
    assert handshake(keyed)[0] == 101
    for change in (
        policies.without(policies.backend, "UseTableKeyThroughDynamoDB"),
        policies.narrowed(policies.backend, "UseTableKeyThroughDynamoDB", via(keyed, "ssm")),
    ):
        with change, pytest.raises(urllib.error.HTTPError) as failed:
            push(keyed)  # the session's connections cannot be queried
        assert failed.value.code >= 500
    assert push(keyed)["failed"] == 0


def test_the_backend_needs_the_signing_key_through_secrets_manager(
    keyed: StackHandle, policies: Policies
) -> None:
    """The backend's verifier reads the signing key with the backend's role."""
    secret = keyed.local.outputs.backend_signing_secret_arn
    assert secret is not None
    statement = "DecryptSigningSecretThroughSecretsManager"

    def load() -> list[bytes]:
        client = role_client(keyed, policies.backend, "secretsmanager")
        return list(SecretsManagerKeys(secret, client=client).current())

    assert len(load()) == 1
    for change in (
        policies.without(policies.backend, statement),
        policies.narrowed(policies.backend, statement, via(keyed, "dynamodb")),
    ):
        with change, pytest.raises(ClientError) as refused:
            load()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        denied_kms(keyed, str(refused.value))
    assert len(load()) == 1
