"""The policy shapes the local IAM decides, one row each: the policy, the request, the
decision AWS documents, and the page that documents it. Shared by the pure evaluator's test
and the endpoint's (the same rows posted as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ws-handler"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ws-handler/ws-connection-handler"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ws-backend-signing-AbCdEf"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ws-connections"
VIA_SECRETS = f"secretsmanager.{REGION}.amazonaws.com"
VIA_DYNAMODB = f"dynamodb.{REGION}.amazonaws.com"
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
LOG_GROUPS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"

_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide"
EVALUATION = f"{_IAM}/reference_policies_evaluation-logic.html"
SINGLE_ACCOUNT = f"{_IAM}/reference_policies_evaluation-logic_policy-eval-basics.html"
CROSS_ACCOUNT = f"{_IAM}/reference_policies_evaluation-logic-cross-account.html"
OPERATORS = f"{_IAM}/reference_policies_elements_condition_operators.html"
MULTIVALUED = f"{_IAM}/reference_policies_condition-single-vs-multi-valued-context-keys.html"
ARNS = f"{_IAM}/reference-arns.html"
NOT_ACTION = f"{_IAM}/reference_policies_elements_notaction.html"
NOT_RESOURCE = f"{_IAM}/reference_policies_elements_notresource.html"
RESOURCE = f"{_IAM}/reference_policies_elements_resource.html"
VARIABLES = f"{_IAM}/reference_policies_variables.html"
GLOBAL_KEYS = f"{_IAM}/reference_policies_condition-keys.html"
PRINCIPAL = f"{_IAM}/reference_policies_elements_principal.html"
TRUST = f"{_IAM}/id_roles_terms-and-concepts.html"
KMS_VIA = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service"
KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
SECRET_POLICY = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_resource-policies.html"
SECRET_KEYS = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html"
)


def allow(
    action: Any, resource: Any, condition: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def deny(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**allow(action, resource, condition), "Effect": "Deny"}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def key_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return policy(*statements)


ROOT_ADMINISTERS_KEY = {
    "Sid": "AccountAdministersTheKeyThroughIam",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
DECRYPT_THROUGH_SECRETS = allow(
    "kms:Decrypt", KEY, {"StringEquals": {"kms:ViaService": [VIA_SECRETS]}}
)


@dataclass(frozen=True)
class Shape:
    name: str
    identity: list[dict[str, Any]]
    action: str
    resource: str
    context: dict[str, Any]
    expected: str  # allow, explicitDeny, implicitDeny
    page: str
    principal: str = SESSION
    resource_policy: dict[str, Any] | None = None
    required: bool = False  # a key policy or a trust policy
    extra: dict[str, Any] = field(default_factory=dict)


def kms_rows() -> list[Shape]:
    """KMS behind Secrets Manager and DynamoDB: kms:ViaService, identity and key policy."""
    # A table, one row per shape: long, but a row is read on its own.
    decrypt = "kms:Decrypt"
    through_secrets = {"kms:ViaService": VIA_SECRETS, "kms:CallerAccount": ACCOUNT}
    delegating = key_policy(ROOT_ADMINISTERS_KEY)
    rows = [
        Shape(
            "kms:Decrypt through Secrets Manager, kms:ViaService matches",
            [policy(DECRYPT_THROUGH_SECRETS)],
            decrypt,
            KEY,
            through_secrets,
            "allow",
            KMS_VIA,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "kms:Decrypt with the wrong kms:ViaService (DynamoDB's grant used for a secret)",
            [policy(allow(decrypt, KEY, {"StringEquals": {"kms:ViaService": VIA_DYNAMODB}}))],
            decrypt,
            KEY,
            through_secrets,
            "implicitDeny",
            KMS_VIA,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "kms:Decrypt called directly: kms:ViaService is absent",
            [policy(DECRYPT_THROUGH_SECRETS)],
            decrypt,
            KEY,
            {"kms:CallerAccount": ACCOUNT},
            "implicitDeny",
            KMS_VIA,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "no kms:Decrypt statement: the secret's value cannot be read",
            [policy(allow("secretsmanager:GetSecretValue", SECRET))],
            decrypt,
            KEY,
            through_secrets,
            "implicitDeny",
            KMS_VIA,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "a key policy that does not delegate to IAM: the identity grant is not enough",
            [policy(DECRYPT_THROUGH_SECRETS)],
            decrypt,
            KEY,
            through_secrets,
            "implicitDeny",
            KEY_POLICY,
            resource_policy=key_policy(
                {
                    **ROOT_ADMINISTERS_KEY,
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/key-admin"},
                }
            ),
            required=True,
        ),
        Shape(
            "a key policy naming the role allows without an identity grant",
            [],
            decrypt,
            KEY,
            through_secrets,
            "allow",
            KEY_POLICY,
            resource_policy=key_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                }
            ),
            required=True,
        ),
        Shape(
            "a key policy delegating to IAM, no identity grant",
            [],
            decrypt,
            KEY,
            through_secrets,
            "implicitDeny",
            KEY_POLICY,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "an explicit Deny in the key policy wins",
            [policy(DECRYPT_THROUGH_SECRETS)],
            decrypt,
            KEY,
            through_secrets,
            "explicitDeny",
            EVALUATION,
            resource_policy=key_policy(
                ROOT_ADMINISTERS_KEY,
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"kms:ViaService": VIA_DYNAMODB}},
                },
            ),
            required=True,
        ),
        Shape(
            "kms:GenerateDataKey* covers kms:GenerateDataKey through DynamoDB",
            [
                policy(
                    allow(
                        ["kms:Decrypt", "kms:GenerateDataKey*"],
                        KEY,
                        {"StringEquals": {"kms:ViaService": VIA_DYNAMODB}},
                    )
                )
            ],
            "kms:GenerateDataKey",
            KEY,
            {"kms:ViaService": VIA_DYNAMODB},
            "allow",
            KMS_VIA,
            resource_policy=delegating,
            required=True,
        ),
        Shape(
            "the CloudWatch Logs key statement (complete example) with its encryption context",
            [],
            "kms:Encrypt",
            KEY,
            {LOGS_CONTEXT: f"{LOG_GROUPS}/aws/lambda/x"},
            "allow",
            KEY_POLICY,
            principal=f"logs.{REGION}.amazonaws.com",
            resource_policy=key_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*"],
                    "Resource": "*",
                    "Condition": {"ArnLike": {LOGS_CONTEXT: f"{LOG_GROUPS}*"}},
                }
            ),
            required=True,
        ),
    ]
    return rows


def resource_policy_rows() -> list[Shape]:
    """Secret policies (either side allows within one account), trust policies (must allow),
    and across accounts (both must allow)."""
    # A table, one row per shape: long, but a row is read on its own.
    get = "secretsmanager:GetSecretValue"
    assume = "sts:AssumeRole"
    target = f"arn:aws:iam::{ACCOUNT}:role/ws-backend"
    lambda_trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": assume}
    )
    root_trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": assume}
    )
    return [
        Shape(
            "a secret policy naming the role allows without an identity grant",
            [],
            get,
            SECRET,
            {},
            "allow",
            SINGLE_ACCOUNT,
            resource_policy=policy(
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": get, "Resource": "*"}
            ),
        ),
        Shape(
            "an explicit Deny in the secret policy beats the identity grant",
            [policy(allow(get, SECRET))],
            get,
            SECRET,
            {},
            "explicitDeny",
            SECRET_POLICY,
            resource_policy=policy(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": get,
                    "Resource": "*",
                    "Condition": {
                        "StringNotEquals": {
                            "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/other"
                        }
                    },
                }
            ),
        ),
        Shape(
            "a secret policy naming another role does not apply",
            [],
            get,
            SECRET,
            {},
            "implicitDeny",
            SINGLE_ACCOUNT,
            resource_policy=policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
                    "Action": get,
                    "Resource": "*",
                }
            ),
        ),
        Shape(
            "across accounts the identity grant alone is not enough",
            [policy(allow(get, SECRET))],
            get,
            SECRET,
            {},
            "implicitDeny",
            CROSS_ACCOUNT,
            principal=f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/reader/s",
        ),
        Shape(
            "across accounts, both sides allow",
            [policy(allow(get, SECRET))],
            get,
            SECRET,
            {},
            "allow",
            CROSS_ACCOUNT,
            principal=f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/reader/s",
            resource_policy=policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": OTHER_ACCOUNT},
                    "Action": get,
                    "Resource": "*",
                }
            ),
        ),
        Shape(
            "Lambda assumes a role that trusts lambda.amazonaws.com",
            [],
            assume,
            target,
            {},
            "allow",
            TRUST,
            principal="lambda.amazonaws.com",
            resource_policy=lambda_trust,
            required=True,
        ),
        Shape(
            "a role session may not assume a role trusting Lambda only, whatever its grants",
            [policy(allow(assume, "*"))],
            assume,
            target,
            {},
            "implicitDeny",
            TRUST,
            resource_policy=lambda_trust,
            required=True,
        ),
        Shape(
            "a trust policy naming the account needs the caller's identity grant too",
            [],
            assume,
            target,
            {},
            "implicitDeny",
            PRINCIPAL,
            resource_policy=root_trust,
            required=True,
        ),
        Shape(
            "a trust policy naming the account, with the identity grant",
            [policy(allow(assume, target))],
            assume,
            target,
            {},
            "allow",
            PRINCIPAL,
            resource_policy=root_trust,
            required=True,
        ),
        Shape(
            "a trust policy naming the role allows its sessions directly",
            [],
            assume,
            target,
            {},
            "allow",
            PRINCIPAL,
            resource_policy=policy(
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": assume}
            ),
            required=True,
        ),
        Shape(
            "a trust policy with an ExternalId condition, none sent",
            [policy(allow(assume, target))],
            assume,
            target,
            {},
            "implicitDeny",
            TRUST,
            resource_policy=policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": assume,
                    "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
                }
            ),
            required=True,
        ),
    ]


def all_shapes() -> list[Shape]:
    """Every row, in order."""
    from iam_shapes_conditions import operator_rows
    from iam_shapes_elements import element_rows

    return operator_rows() + kms_rows() + element_rows() + resource_policy_rows()
