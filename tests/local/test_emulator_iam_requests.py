"""API calls as the authorizations AWS makes for them: explicit tables, the full ARN of a
secret, KMS behind Secrets Manager and DynamoDB, trust policies, and the module's own
policy shapes decided end to end (authorize.py over resources.py, with a fake Lookup)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from iam_shapes import (
    ACCOUNT,
    KEY,
    REGION,
    ROLE,
    ROOT_ADMINISTERS_KEY,
    SECRET,
    SESSION,
    TABLE,
    VIA_DYNAMODB,
    VIA_SECRETS,
    allow,
    policy,
)

from wslocal.emulator.iam.authorize import Caller, Denied, authorize, request_context
from wslocal.emulator.iam.policy import Principal
from wslocal.emulator.iam.resources import (
    Call,
    InvalidRequest,
    KeyInfo,
    ParameterInfo,
    RoleInfo,
    SecretInfo,
    TableInfo,
    UnmappedRequest,
    accesses,
    mapped_operations,
)

AWS_MANAGED = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aws-managed"


@dataclass
class FakeLookup:
    secrets: dict[str, SecretInfo] = field(default_factory=dict)
    tables: dict[str, TableInfo] = field(default_factory=dict)
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    roles: dict[str, RoleInfo] = field(default_factory=dict)
    ciphertexts: dict[str, str] = field(default_factory=dict)

    def secret(self, account: str, region: str, secret_id: str) -> SecretInfo | None:
        return self.secrets.get(secret_id)

    def table(self, account: str, region: str, name: str) -> TableInfo | None:
        return self.tables.get(name)

    def key(self, account: str, region: str, key_id: str) -> KeyInfo | None:
        return self.keys.get(key_id)

    def key_of_ciphertext(self, blob: str) -> str | None:
        return self.ciphertexts.get(blob)

    def role(self, role_arn: str) -> RoleInfo | None:
        return self.roles.get(role_arn)

    def parameter(self, account: str, region: str, name: str) -> ParameterInfo | None:
        return None


def world() -> FakeLookup:
    """The module's resources: the signing secret and the table on a customer managed key
    whose policy delegates to IAM (examples/complete), an AWS managed key, a secret on it."""
    key = KeyInfo(KEY, ACCOUNT, policy(ROOT_ADMINISTERS_KEY), True, {}, ["alias/ws"])
    managed = KeyInfo(AWS_MANAGED, ACCOUNT, None, False, {}, ["alias/aws/secretsmanager"])
    signing = SecretInfo(
        SECRET, KEY, {"team": "labs"}, None, {"AWSCURRENT": "v2", "AWSPREVIOUS": "v1"}
    )
    plain = SecretInfo(f"{SECRET[:-7]}plain-XyZ123", "alias/aws/secretsmanager", {}, None, {})
    table = TableInfo(TABLE, KEY, "connectionId", {"sessionId-index": "sessionId"}, {})
    backend_role = f"arn:aws:iam::{ACCOUNT}:role/ws-backend"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    return FakeLookup(
        secrets={"ws-backend-signing": signing, SECRET: signing, "plain": plain},
        tables={"ws-connections": table},
        keys={KEY: key, "alias/ws": key, "alias/aws/secretsmanager": managed},
        roles={backend_role: RoleInfo(backend_role, ACCOUNT, trust, {})},
        ciphertexts={"Y2lwaGVy": KEY},
    )


def call(service: str, operation: str, **params: Any) -> Call:
    return Call(service, operation, params, REGION, ACCOUNT)


def handler(*statements: dict[str, Any]) -> Caller:
    principal = Principal.parse(SESSION)
    documents = [policy(*statements)] if statements else []
    return Caller(principal, documents, request_context(principal, region=REGION))


READ_SIGNING_SECRET = allow("secretsmanager:GetSecretValue", SECRET)
DECRYPT_SIGNING_SECRET = allow(
    "kms:Decrypt", KEY, {"StringEquals": {"kms:ViaService": [VIA_SECRETS]}}
)
CONNECTION_RECORDS = allow(["dynamodb:DeleteItem", "dynamodb:PutItem"], TABLE)
USE_TABLE_KEY = allow(
    ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
    KEY,
    {"StringEquals": {"kms:ViaService": [VIA_DYNAMODB]}},
)


def test_secret_id_is_resolved_to_the_full_arn_before_matching() -> None:
    found = accesses(
        call("secretsmanager", "GetSecretValue", SecretId="ws-backend-signing"), world()
    )
    assert found[0].resource == SECRET
    assert found[0].context["secretsmanager:SecretId"] == "ws-backend-signing"
    assert found[0].context["secretsmanager:ResourceTag/team"] == "labs"
    assert "secretsmanager:VersionStage" not in found[0].context
    read = call("secretsmanager", "GetSecretValue", SecretId="ws-backend-signing")
    authorize(handler(READ_SIGNING_SECRET, DECRYPT_SIGNING_SECRET), read, world())
    no_suffix = allow("secretsmanager:GetSecretValue", SECRET.rsplit("-", 1)[0])
    with pytest.raises(Denied, match="secretsmanager:GetSecretValue"):
        authorize(handler(no_suffix, DECRYPT_SIGNING_SECRET), read, world())


def test_reading_a_secret_on_a_customer_managed_key_needs_kms_decrypt_through_secrets_manager() -> (
    None
):
    read = call("secretsmanager", "GetSecretValue", SecretId=SECRET, VersionStage="AWSPREVIOUS")
    found = accesses(read, world())
    assert [(a.action, a.resource, a.via_service) for a in found] == [
        ("secretsmanager:GetSecretValue", SECRET, None),
        ("kms:Decrypt", KEY, "secretsmanager"),
    ]
    kms = found[1].context
    assert kms["kms:ViaService"] == VIA_SECRETS
    assert kms["kms:CallerAccount"] == ACCOUNT
    assert kms["kms:EncryptionContext:SecretARN"] == SECRET
    assert kms["kms:EncryptionContext:SecretVersionId"] == "v1"
    key_policy = found[1].resource_policy
    assert key_policy is not None
    assert key_policy.required
    with pytest.raises(Denied) as denied:
        authorize(handler(READ_SIGNING_SECRET), read, world())
    assert "kms:Decrypt" in denied.value.message
    assert KEY in denied.value.message
    assert "Access to KMS is not allowed" in denied.value.message
    wrong_service = allow("kms:Decrypt", KEY, {"StringEquals": {"kms:ViaService": VIA_DYNAMODB}})
    with pytest.raises(Denied, match="kms:Decrypt"):
        authorize(handler(READ_SIGNING_SECRET, wrong_service), read, world())
    current_only = allow(
        "secretsmanager:GetSecretValue",
        SECRET,
        {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}},
    )
    with pytest.raises(Denied, match="secretsmanager:GetSecretValue"):
        authorize(handler(current_only, DECRYPT_SIGNING_SECRET), read, world())


def test_an_aws_managed_key_needs_no_kms_grant() -> None:
    read = call("secretsmanager", "GetSecretValue", SecretId="plain")
    assert [a.action for a in accesses(read, world())] == ["secretsmanager:GetSecretValue"]


def test_writing_a_secret_value_needs_generate_data_key() -> None:
    write = call("secretsmanager", "PutSecretValue", SecretId=SECRET, SecretString="new")
    assert [a.action for a in accesses(write, world())] == [
        "secretsmanager:PutSecretValue",
        "kms:GenerateDataKey",
    ]


def test_dynamodb_items_of_a_table_on_a_customer_managed_key_need_kms_decrypt() -> None:
    put = call(
        "dynamodb", "PutItem", TableName="ws-connections", Item={"connectionId": {"S": "c1"}}
    )
    found = accesses(put, world())
    assert [(a.action, a.resource, a.via_service) for a in found] == [
        ("dynamodb:PutItem", TABLE, None),
        ("kms:Decrypt", KEY, "dynamodb"),
    ]
    assert found[0].context["dynamodb:LeadingKeys"] == ["c1"]
    assert found[1].context["kms:ViaService"] == VIA_DYNAMODB
    assert found[1].context["kms:EncryptionContext:aws:dynamodb:tableName"] == "ws-connections"
    authorize(handler(CONNECTION_RECORDS, USE_TABLE_KEY), put, world())
    with pytest.raises(Denied, match="kms:Decrypt"):
        authorize(handler(CONNECTION_RECORDS), put, world())
    describe = call("dynamodb", "DescribeTable", TableName="ws-connections")
    assert [a.action for a in accesses(describe, world())] == ["dynamodb:DescribeTable"]


def test_a_query_of_an_index_names_the_index_and_its_leading_key() -> None:
    query = call(
        "dynamodb",
        "Query",
        TableName="ws-connections",
        IndexName="sessionId-index",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "sessionId"},
        ExpressionAttributeValues={":s": {"S": "lab-1"}},
    )
    found = accesses(query, world())
    assert found[0].resource == f"{TABLE}/index/sessionId-index"
    assert found[0].context["dynamodb:LeadingKeys"] == ["lab-1"]
    table_only = allow("dynamodb:Query", TABLE)
    with pytest.raises(Denied, match="index/sessionId-index"):
        authorize(handler(table_only, USE_TABLE_KEY), query, world())


def test_batch_and_transaction_calls_authorize_each_table_and_item() -> None:
    batch = call("dynamodb", "BatchWriteItem", RequestItems={"ws-connections": [], "other": []})
    assert [a.resource for a in accesses(batch, world()) if a.action.startswith("dynamodb")] == [
        TABLE,
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other",
    ]
    transact = call(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Delete": {"TableName": "other", "Key": {}}},
            {"Put": {"TableName": "other", "Item": {}}},
        ],
    )
    assert [a.action for a in accesses(transact, world())] == [
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
    ]


def test_kms_decrypt_without_a_key_id_takes_the_ciphertexts_key() -> None:
    found = accesses(call("kms", "Decrypt", CiphertextBlob="Y2lwaGVy"), world())
    assert (found[0].resource, found[0].context.get("kms:ViaService")) == (KEY, None)
    with pytest.raises(InvalidRequest):
        accesses(call("kms", "Decrypt", CiphertextBlob="dW5rbm93bg=="), world())
    aliased = accesses(call("kms", "Encrypt", KeyId="alias/ws", Plaintext="eA=="), world())
    assert (aliased[0].resource, aliased[0].context["kms:RequestAlias"]) == (KEY, "alias/ws")


def test_assume_role_reads_the_trust_policy() -> None:
    target = f"arn:aws:iam::{ACCOUNT}:role/ws-backend"
    assume = call("sts", "AssumeRole", RoleArn=target, RoleSessionName="s")
    found = accesses(assume, world())
    trust = found[0].resource_policy
    assert trust is not None
    assert trust.required
    assert found[0].context["sts:RoleSessionName"] == "s"
    with pytest.raises(Denied, match="role trust policy"):
        authorize(handler(allow("sts:AssumeRole", "*")), assume, world())
    missing = call(
        "sts", "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope", RoleSessionName="s"
    )
    with pytest.raises(Denied):
        authorize(handler(allow("sts:AssumeRole", "*")), missing, world())
    authorize(handler(), call("sts", "GetCallerIdentity"), world())  # always allowed


def test_resources_the_old_evaluator_did_not_know_are_named() -> None:
    connect = accesses(
        call("elasticache", "Connect", ReplicationGroupId="ws-sessions", UserId="ws-backend"),
        world(),
    )
    assert [a.resource for a in connect] == [
        f"arn:aws:elasticache:{REGION}:{ACCOUNT}:replicationgroup:ws-sessions",
        f"arn:aws:elasticache:{REGION}:{ACCOUNT}:user:ws-backend",
    ]
    group_only = allow("elasticache:Connect", connect[0].resource)
    with pytest.raises(Denied, match="user:ws-backend"):
        authorize(
            handler(group_only),
            call("elasticache", "Connect", ReplicationGroupId="ws-sessions", UserId="ws-backend"),
            world(),
        )
    stream = accesses(
        call("logs", "PutLogEvents", logGroupName="/aws/lambda/f", logStreamName="s"), world()
    )
    assert (
        stream[0].resource
        == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s"
    )
    assert accesses(call("xray", "PutTraceSegments"), world())[0].resource == "*"
    everything_but_a_table = {"Effect": "Allow", "Action": "*", "NotResource": f"{TABLE}-other"}
    with pytest.raises(UnmappedRequest, match="lambda:InvokeFunction"):
        authorize(handler(everything_but_a_table), call("lambda", "InvokeFunction"), world())


def test_the_tables_cover_what_the_module_and_the_local_stack_call() -> None:
    tables = mapped_operations()
    used = {
        "dynamodb": {"PutItem", "DeleteItem", "Query", "GetItem", "Scan", "DescribeTable"},
        "secretsmanager": {"GetSecretValue", "DescribeSecret", "PutSecretValue"},
        "ssm": {"GetParameter"},
        "kms": {"Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"},
        "sts": {"AssumeRole", "GetCallerIdentity"},
        "execute-api": {"ManageConnections"},
        "elasticache": {"Connect"},
        "logs": {"CreateLogStream", "PutLogEvents"},
        "xray": {"PutTraceSegments", "PutTelemetryRecords"},
    }
    for service, operations in used.items():
        assert operations <= tables[service], (service, operations - tables[service])


def test_a_missing_parameter_is_a_validation_error_not_a_guess() -> None:
    with pytest.raises(InvalidRequest, match="SecretId"):
        accesses(call("secretsmanager", "GetSecretValue"), world())


def test_the_denial_message_says_who_what_where_and_why() -> None:
    with pytest.raises(Denied) as denied:
        authorize(
            handler(), call("dynamodb", "PutItem", TableName="ws-connections", Item={}), world()
        )
    assert denied.value.message == (
        f"User: {SESSION} is not authorized to perform: dynamodb:PutItem on resource: {TABLE} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert (denied.value.status, denied.value.error_type) == (400, "AccessDeniedException")
    assert json.dumps(denied.value.message)  # serializable as the error body
    assert ROLE in request_context(Principal.parse(SESSION), region=REGION)["aws:PrincipalArn"]
