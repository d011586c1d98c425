"""IAM in the emulator, for calls moto serves and for `POST /_wslocal/iam/authorize`:
identity policies of issued credentials, KMS behind Secrets Manager with key policies,
secret resource policies, role trust policies, SigV4 skew and signed host, and operations
the tables do not map (tests/local has the table-driven evaluator tests)."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from emulator_support import (
    ACCOUNT,
    REGION,
    admin_client,
    create_role,
    error_code,
    role_credentials,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
VIA_SECRETS = f"secretsmanager.{REGION}.amazonaws.com"


def key_and_secret(
    emulator: str, name: str, key_policy: dict[str, Any] | None = None
) -> tuple[str, str]:
    """A customer managed key (its policy delegating to IAM unless given) and a secret on it."""
    policy = key_policy or {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}
        ],
    }
    key = admin_client(emulator, "kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    secret = admin_client(emulator, "secretsmanager").create_secret(
        Name=name, SecretString="s3cret", KmsKeyId=key
    )["ARN"]
    return str(key), str(secret)


def reader(emulator: str, role: str, secret: str, *extra: dict[str, Any]) -> Any:
    statements = [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
    ]
    credentials = role_credentials(emulator, role, [*statements, *extra])
    return admin_client(emulator, "secretsmanager", **credentials)


def decrypt_via(key: str, service: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}},
    }


def test_a_secret_on_a_customer_managed_key_needs_kms_decrypt_through_secrets_manager(
    emulator: str,
) -> None:
    key, secret = key_and_secret(emulator, "signing")
    by_name = "signing"  # the SecretId as sent; IAM matches the full ARN
    with pytest.raises(ClientError) as denied:
        reader(emulator, "no-kms", secret).get_secret_value(SecretId=by_name)
    assert error_code(denied) == "AccessDeniedException"
    message = denied.value.response["Error"]["Message"]
    assert "kms:Decrypt" in message
    assert key in message
    wrong = reader(emulator, "wrong-service", secret, decrypt_via(key, "dynamodb"))
    with pytest.raises(ClientError, match="kms:Decrypt"):
        wrong.get_secret_value(SecretId=by_name)
    right = reader(emulator, "right-service", secret, decrypt_via(key, "secretsmanager"))
    assert right.get_secret_value(SecretId=by_name)["SecretString"] == "s3cret"
    credentials = role_credentials(emulator, "direct", [decrypt_via(key, "secretsmanager")])
    blob = admin_client(emulator, "kms").encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError, match="kms:Decrypt"):  # no kms:ViaService when called directly
        admin_client(emulator, "kms", **credentials).decrypt(CiphertextBlob=blob)


def test_a_key_policy_that_does_not_delegate_to_iam_refuses_the_identity_grant(
    emulator: str,
) -> None:
    admin_role = f"arn:aws:iam::{ACCOUNT}:role/key-admin"
    create_role(emulator, "key-admin", [])
    only_admin = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": admin_role},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    key, secret = key_and_secret(emulator, "locked", only_admin)
    granted = reader(emulator, "granted", secret, decrypt_via(key, "secretsmanager"))
    with pytest.raises(ClientError) as denied:
        granted.get_secret_value(SecretId=secret)
    assert "no resource-based policy allows the kms:Decrypt action" in str(denied.value)


def test_a_secret_policy_is_read_beside_identity_policies(emulator: str) -> None:
    secret = admin_client(emulator, "secretsmanager").create_secret(
        Name="shared", SecretString="v"
    )["ARN"]
    role_arn = create_role(emulator, "named-by-the-secret", [])
    admin_client(emulator, "secretsmanager").put_resource_policy(
        SecretId=secret,
        ResourcePolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": role_arn},
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    },
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "secretsmanager:DescribeSecret",
                        "Resource": "*",
                    },
                ],
            }
        ),
    )
    issued = admin_client(emulator, "sts").assume_role(RoleArn=role_arn, RoleSessionName="named")[
        "Credentials"
    ]
    named = admin_client(
        emulator,
        "secretsmanager",
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
    )
    assert named.get_secret_value(SecretId="shared")["SecretString"] == "v"  # no identity grant
    everything = role_credentials(
        emulator,
        "reads-everything",
        [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}],
    )
    with pytest.raises(ClientError, match="explicit deny in a resource-based policy"):
        admin_client(emulator, "secretsmanager", **everything).describe_secret(SecretId="shared")


def test_assume_role_reads_the_trust_policy(emulator: str) -> None:
    caller_arn = create_role(
        emulator, "caller", [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
    )
    issued = admin_client(emulator, "sts").assume_role(
        RoleArn=caller_arn, RoleSessionName="caller"
    )["Credentials"]
    caller = admin_client(
        emulator,
        "sts",
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
    )
    lambda_only = create_role(emulator, "lambda-only", [])
    with pytest.raises(ClientError) as refused:
        caller.assume_role(RoleArn=lambda_only, RoleSessionName="tried")
    assert "role trust policy" in refused.value.response["Error"]["Message"]
    trusting = create_role(emulator, "trusts-caller", [], trusted={"AWS": caller_arn})
    assert caller.assume_role(RoleArn=trusting, RoleSessionName="tried")["Credentials"][
        "AccessKeyId"
    ]
    elsewhere = create_role(
        emulator, "other-account", [], trusted={"AWS": "arn:aws:iam::210987654321:root"}
    )
    with pytest.raises(ClientError) as admin_refused:  # the admin keys: this account's root
        admin_client(emulator, "sts").assume_role(RoleArn=elsewhere, RoleSessionName="tried")
    assert error_code(admin_refused) == "AccessDenied"


def signed_at(
    emulator: str, credentials: dict[str, str], at: datetime, *, sign_host: bool = True
) -> dict[str, str]:
    """Headers of a DynamoDB ListTables request signed at `at` (host signed or not)."""
    request = AWSRequest(method="POST", url=emulator + "/", data=b"{}")
    request.headers["Content-Type"] = "application/x-amz-json-1.0"
    request.headers["X-Amz-Target"] = "DynamoDB_20120810.ListTables"
    request.headers["X-Amz-Security-Token"] = credentials["aws_session_token"]
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    auth = SigV4Auth(
        Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"]),
        "dynamodb",
        REGION,
    )
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    names = ";".join(sorted(auth.headers_to_sign(request)))
    if not sign_host:
        names = ";".join(n for n in names.split(";") if n != "host")
    scope = f"{credentials['aws_access_key_id']}/{stamp[:8]}/{REGION}/dynamodb/aws4_request"
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={names}, Signature={signature}"
    )
    return dict(request.headers.items())


def list_tables(emulator: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(emulator + "/", data=b"{}", method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the emulator
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_signatures_are_held_to_the_clock_and_to_a_signed_host(emulator: str) -> None:
    credentials = role_credentials(
        emulator, "lister", [{"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"}]
    )
    now = datetime.now(UTC)
    assert list_tables(emulator, signed_at(emulator, credentials, now))[0] == 200
    assert (
        list_tables(emulator, signed_at(emulator, credentials, now - timedelta(minutes=10)))[0]
        == 200
    )
    status, body = list_tables(
        emulator, signed_at(emulator, credentials, now - timedelta(minutes=20))
    )
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature expired")
    status, body = list_tables(emulator, signed_at(emulator, credentials, now, sign_host=False))
    assert (status, body["__type"]) == (403, "IncompleteSignatureException")


def test_an_operation_without_a_mapping_is_refused_saying_so(emulator: str) -> None:
    anything = role_credentials(
        emulator, "anything", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    )
    with pytest.raises(ClientError) as refused:
        admin_client(emulator, "lambda", **anything).list_functions()  # a GET: signed, no body
    assert error_code(refused) == "AccessDeniedException"
    assert "no mapping for lambda:ListFunctions" in str(refused.value)


def test_the_endpoint_derives_a_calls_authorizations_from_the_emulators_state(
    emulator: str,
) -> None:
    key, secret = key_and_secret(emulator, "evaluated")
    query = {
        "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/s",
        "identityPolicies": [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": secret,
                    }
                ],
            }
        ],
        "call": {
            "service": "secretsmanager",
            "operation": "GetSecretValue",
            "parameters": {"SecretId": "evaluated"},
        },
    }
    request = urllib.request.Request(  # noqa: S310 - the emulator
        f"{emulator}/_wslocal/iam/authorize", data=json.dumps(query).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        document = json.loads(answer.read())
    assert document["decision"] == "implicitDeny"
    assert [(e["action"], e["resource"], e["decision"]) for e in document["evaluations"]] == [
        ("secretsmanager:GetSecretValue", secret, "allow"),
        ("kms:Decrypt", key, "implicitDeny"),
    ]
    assert document["evaluations"][1]["viaService"] == "secretsmanager"


def test_assumed_role_credentials_are_held_to_the_role_policy(emulator: str) -> None:
    admin = admin_client(emulator, "dynamodb")
    for table in ("allowed", "other"):
        admin.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    table_arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/allowed"
    credentials = role_credentials(
        emulator,
        "writer",
        [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                "Resource": table_arn,
            },
            {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": table_arn},
        ],
    )
    role = admin_client(emulator, "dynamodb", **credentials)
    item = {"id": {"S": "1"}}
    role.put_item(TableName="allowed", Item=item)
    assert role.get_item(TableName="allowed", Key=item)["Item"] == item
    for call in (
        lambda: role.put_item(TableName="other", Item=item),  # another table
        lambda: role.delete_item(TableName="allowed", Key=item),  # an explicit Deny
        lambda: role.scan(TableName="allowed"),  # an action no statement allows
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert error_code(denied) == "AccessDeniedException"
        assert "assumed-role/writer/writer" in denied.value.response["Error"]["Message"]
    role.delete_item(TableName="other", Key=item)  # allowed by the wildcard, not denied
    admin.delete_item(TableName="allowed", Key=item)  # the admin keys are not checked
    wrong = dict(credentials, aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as mismatch:
        admin_client(emulator, "dynamodb", **wrong).get_item(TableName="allowed", Key=item)
    assert error_code(mismatch) == "SignatureDoesNotMatch"


def test_an_iam_user_key_without_a_policy_is_denied(emulator: str) -> None:
    iam = admin_client(emulator, "iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    secrets = admin_client(
        emulator,
        "secretsmanager",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    admin_client(emulator, "secretsmanager").create_secret(Name="s1", SecretString="x")
    with pytest.raises(ClientError) as denied:
        secrets.get_secret_value(SecretId="s1")
    assert error_code(denied) == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in denied.value.response["Error"]["Message"]


API_ARN = f"arn:aws:execute-api:{REGION}:123456789012:api1"


def connections_check(
    emulator: str, credentials: dict[str, str], stage: str, signed_stage: str | None = None
) -> dict[str, Any]:
    """Ask the emulator whether a signed @connections POST for `stage` may pass."""
    target = f"/{signed_stage or stage}/@connections/abc%3D"
    request = AWSRequest(
        method="POST", url=f"http://127.0.0.1:9/{target.lstrip('/')}", data=b"hello"
    )
    SigV4Auth(
        Credentials(
            credentials["aws_access_key_id"],
            credentials["aws_secret_access_key"],
            credentials.get("aws_session_token"),
        ),
        "execute-api",
        REGION,
    ).add_auth(request)
    query = {
        "method": "POST",
        "target": f"/{stage}/@connections/abc%3D",
        "headers": [("Host", "127.0.0.1:9"), *request.headers.items()],
        "body": base64.b64encode(b"hello").decode(),
        "action": "execute-api:ManageConnections",
        "resource": f"{API_ARN}/{stage}/POST/@connections/abc=",
    }
    answer = urllib.request.urlopen(  # noqa: S310 - the local emulator
        urllib.request.Request(  # noqa: S310
            f"{emulator}/_wslocal/iam/authorize", data=json.dumps(query).encode(), method="POST"
        ),
        timeout=10,
    )
    document: dict[str, Any] = json.loads(answer.read())
    return document


def test_the_authorize_endpoint_checks_signatures_and_manage_connections(emulator: str) -> None:
    admin = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    assert connections_check(emulator, admin, "local")["allowed"]
    wrong = connections_check(emulator, dict(admin, aws_secret_access_key="nope"), "local")
    assert (wrong["allowed"], wrong["status"]) == (False, 403)
    assert "signature" in wrong["message"]
    unknown = {"aws_access_key_id": "AKIAUNKNOWN", "aws_secret_access_key": "x"}
    assert not connections_check(emulator, unknown, "local")["allowed"]
    pusher = role_credentials(
        emulator,
        "pusher",
        [
            {
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": f"{API_ARN}/local/POST/@connections/*",
            }
        ],
    )
    assert connections_check(emulator, pusher, "local")["allowed"]
    other_stage = connections_check(emulator, pusher, "prod")
    assert (other_stage["allowed"], other_stage["status"]) == (False, 403)
    assert "execute-api:ManageConnections" in other_stage["message"]
    # a request whose path differs from the one signed
    assert not connections_check(emulator, pusher, "local", signed_stage="loca1")["allowed"]
    tampered = dict(pusher, aws_secret_access_key="nope")
    assert not connections_check(emulator, tampered, "local")["allowed"]
