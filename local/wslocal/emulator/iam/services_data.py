"""IAM tables of the data services: DynamoDB, Secrets Manager, SSM Parameter Store.

Resources and condition keys as the Service Authorization Reference lists them
(service-authorization/latest/reference/list_amazondynamodb.html,
list_awssecretsmanager.html, list_awssystemsmanager.html). Notes:

- DynamoDB: items and queries of a table name the table's ARN, of an index
  `<table ARN>/index/<index>`; batch and transaction calls authorize each table (and, for
  transactions, each item's own action). `dynamodb:LeadingKeys` is the partition key
  value(s) the request names (the key of an item operation; the equality of a Query's
  `KeyConditionExpression` or `KeyConditions`), plus `dynamodb:Select`,
  `dynamodb:ReturnValues` and `dynamodb:ReturnConsumedCapacity` when sent. Item reads and
  writes of a table encrypted with a customer managed key add `kms:Decrypt` through DynamoDB.
- Secrets Manager: `SecretId` is resolved to the secret's full ARN (with its random suffix)
  before matching, as AWS matches it; `secretsmanager:SecretId` keeps the id as sent,
  `secretsmanager:VersionStage`/`VersionId` are present when the request names them. The
  secret's resource policy is read beside identity policies. Reading a value adds
  `kms:Decrypt`, writing one `kms:GenerateDataKey`, on a customer managed key.
- SSM: parameter ARNs are `parameter/<name without its leading slash>`; a SecureString read
  with decryption adds `kms:Decrypt` on its customer managed key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wslocal.emulator.iam.kms_behind import on_behalf
from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.policy import ResourcePolicy
from wslocal.emulator.iam.resources import (
    Access,
    Call,
    Lookup,
    Mapper,
    SecretInfo,
    TableInfo,
    arn,
    register,
    request_tag_context,
    required_param,
    string_param,
    tag_context,
    unscoped,
)

__all__: list[str] = []

# -- DynamoDB -------------------------------------------------------------------------------

_ITEM_READS_AND_WRITES = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "ConditionCheckItem",
}  # fmt: skip
_TABLE_OPERATIONS = (
    "DescribeTable", "CreateTable", "DeleteTable", "UpdateTable", "DescribeTimeToLive",
    "UpdateTimeToLive", "DescribeContinuousBackups", "UpdateContinuousBackups",
    "DescribeKinesisStreamingDestination", "DescribeContributorInsights",
)  # fmt: skip
_UNSCOPED_DYNAMODB = ("ListTables", "DescribeLimits", "DescribeEndpoints", "ListBackups")
_EQUALITY = re.compile(r"(#?[A-Za-z0-9_.-]+)\s*=\s*(:[A-Za-z0-9_]+)")


def _attribute_text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for kind in ("S", "N", "B"):
            if isinstance(value.get(kind), str):
                return str(value[kind])
    return None


def _leading_keys(call: Call, params: Mapping[str, Any], hash_key: str | None) -> list[str]:
    if hash_key is None:
        return []
    for name in ("Key", "Item"):
        if isinstance(params.get(name), Mapping):
            text = _attribute_text(params[name].get(hash_key))
            return [text] if text is not None else []
    conditions = params.get("KeyConditions")
    if isinstance(conditions, Mapping) and isinstance(conditions.get(hash_key), Mapping):
        values = conditions[hash_key].get("AttributeValueList") or []
        return [t for t in (_attribute_text(v) for v in values) if t is not None]
    expression = params.get("KeyConditionExpression")
    if isinstance(expression, str):
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        for name, placeholder in _EQUALITY.findall(expression):
            if names.get(name, name) == hash_key:
                text = _attribute_text(values.get(placeholder))
                return [text] if text is not None else []
    return []


def _table_access(
    call: Call,
    lookup: Lookup,
    action: str,
    table_name: str,
    params: Mapping[str, Any],
) -> list[Access]:
    table: TableInfo | None = lookup.table(call.account, call.region, table_name)
    table_arn = table.arn if table is not None else arn(call, "dynamodb", f"table/{table_name}")
    index = params.get("IndexName") if isinstance(params.get("IndexName"), str) else None
    resource = f"{table_arn}/index/{index}" if index else table_arn
    context: dict[str, ContextValue] = {}
    for key in ("Select", "ReturnValues", "ReturnConsumedCapacity"):
        if isinstance(params.get(key), str):
            context[f"dynamodb:{key}"] = params[key]
    hash_key = None
    if table is not None:
        hash_key = table.index_hash_keys.get(index, table.hash_key) if index else table.hash_key
        context.update(tag_context("", table.tags))
    leading = _leading_keys(call, params, hash_key)
    if leading:
        context["dynamodb:LeadingKeys"] = leading
    accesses = [Access(action, resource, context)]
    if table is not None and call.operation in _ITEM_READS_AND_WRITES:
        accesses += on_behalf(
            call,
            lookup,
            table.kms_key_id,
            "kms:Decrypt",
            {"aws:dynamodb:tableName": table_name, "aws:dynamodb:subscriberId": call.account},
        )
    return accesses


def _dynamodb_item(call: Call, lookup: Lookup) -> list[Access]:
    return _table_access(
        call, lookup, f"dynamodb:{call.operation}", required_param(call, "TableName"), call.params
    )


def _dynamodb_by_arn(call: Call, lookup: Lookup) -> list[Access]:
    resource = required_param(call, "ResourceArn")
    name = resource.split(":table/", 1)[-1].split("/", 1)[0]
    return _table_access(call, lookup, f"dynamodb:{call.operation}", name, {})


def _dynamodb_batch(call: Call, lookup: Lookup) -> list[Access]:
    tables = call.params.get("RequestItems")
    if not isinstance(tables, Mapping) or not tables:
        required_param(call, "RequestItems")
    accesses: list[Access] = []
    for name in tables or {}:
        accesses += _table_access(call, lookup, f"dynamodb:{call.operation}", str(name), {})
    return accesses


_TRANSACT_ACTIONS = {
    "Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}  # fmt: skip


def _dynamodb_transact(call: Call, lookup: Lookup) -> list[Access]:
    accesses: list[Access] = []
    for item in call.params.get("TransactItems") or []:
        for kind, operation in (item or {}).items():
            if isinstance(operation, Mapping) and isinstance(operation.get("TableName"), str):
                action = f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}"
                accesses += _table_access(call, lookup, action, operation["TableName"], operation)
    if not accesses:
        required_param(call, "TransactItems")
    return accesses


_DYNAMODB: dict[str, Mapper] = {
    operation: _dynamodb_item
    for operation in (
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", *_TABLE_OPERATIONS
    )
}  # fmt: skip
_DYNAMODB.update(
    {
        "BatchGetItem": _dynamodb_batch,
        "BatchWriteItem": _dynamodb_batch,
        "TransactGetItems": _dynamodb_transact,
        "TransactWriteItems": _dynamodb_transact,
        "TagResource": _dynamodb_by_arn,
        "UntagResource": _dynamodb_by_arn,
        "ListTagsOfResource": _dynamodb_by_arn,
        **{operation: unscoped for operation in _UNSCOPED_DYNAMODB},
    }
)
register("dynamodb", _DYNAMODB)

# -- Secrets Manager ------------------------------------------------------------------------

_SECRET_KEYS = {
    # operation -> {request parameter: condition key}
    "GetSecretValue": {"VersionId": "VersionId", "VersionStage": "VersionStage"},
    "DeleteSecret": {
        "RecoveryWindowInDays": "RecoveryWindowInDays",
        "ForceDeleteWithoutRecovery": "ForceDeleteWithoutRecovery",
    },
    "UpdateSecret": {"Description": "Description", "KmsKeyId": "KmsKeyId"},
    "RotateSecret": {"RotationLambdaARN": "RotationLambdaArn"},
    "PutResourcePolicy": {"BlockPublicPolicy": "BlockPublicPolicy"},
    "UpdateSecretVersionStage": {"VersionStage": "VersionStage"},
}
_SECRET_OPERATIONS = (
    "GetSecretValue", "DescribeSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret",
    "RestoreSecret", "RotateSecret", "CancelRotateSecret", "ListSecretVersionIds",
    "TagResource", "UntagResource", "UpdateSecretVersionStage", "GetResourcePolicy",
    "PutResourcePolicy", "DeleteResourcePolicy", "ValidateResourcePolicy",
    "ReplicateSecretToRegions", "RemoveRegionsFromReplication", "StopReplicationToReplica",
)  # fmt: skip


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _secret_access(call: Call, lookup: Lookup, secret_id: str) -> list[Access]:
    secret: SecretInfo | None = lookup.secret(call.account, call.region, secret_id)
    if secret is not None:
        resource = secret.arn
    elif secret_id.startswith("arn:"):
        resource = secret_id
    else:
        resource = arn(call, "secretsmanager", f"secret:{secret_id}")
    context: dict[str, ContextValue] = {"secretsmanager:SecretId": secret_id}
    for param, key in _SECRET_KEYS.get(call.operation, {}).items():
        if param in call.params and call.params[param] is not None:
            context[f"secretsmanager:{key}"] = _text(call.params[param])
    if call.operation in {"TagResource", "UntagResource"}:
        context.update(request_tag_context(call.params.get("Tags")))
        if isinstance(call.params.get("TagKeys"), list):
            context["aws:TagKeys"] = [str(k) for k in call.params["TagKeys"]]
    policy = None
    if secret is not None:
        context.update(tag_context("secretsmanager", secret.tags))
        if secret.rotation_lambda_arn:
            context["secretsmanager:resource/AllowRotationLambdaArn"] = secret.rotation_lambda_arn
        policy = ResourcePolicy(secret.policy, call.account) if secret.policy else None
    accesses = [Access(f"secretsmanager:{call.operation}", resource, context, policy)]
    if secret is None:
        return accesses
    if call.operation == "GetSecretValue":
        stage = string_param(call, "VersionStage") or "AWSCURRENT"
        version = string_param(call, "VersionId") or secret.version_stages.get(stage, "")
        accesses += on_behalf(
            call,
            lookup,
            secret.kms_key_id,
            "kms:Decrypt",
            {"SecretARN": secret.arn, "SecretVersionId": version},
        )
    elif call.operation in {"PutSecretValue", "UpdateSecret"} and (
        "SecretString" in call.params or "SecretBinary" in call.params
    ):
        new_key = string_param(call, "KmsKeyId") or secret.kms_key_id
        accesses += on_behalf(
            call, lookup, new_key, "kms:GenerateDataKey", {"SecretARN": secret.arn}
        )
    return accesses


def _secret(call: Call, lookup: Lookup) -> list[Access]:
    return _secret_access(call, lookup, required_param(call, "SecretId"))


def _create_secret(call: Call, lookup: Lookup) -> list[Access]:
    name = required_param(call, "Name")
    context: dict[str, ContextValue] = {"secretsmanager:Name": name}
    for param in ("Description", "KmsKeyId"):
        if isinstance(call.params.get(param), str):
            context[f"secretsmanager:{param}"] = call.params[param]
    context.update(request_tag_context(call.params.get("Tags")))
    # The ARN's random suffix does not exist yet: policies match it with `-??????` or `*`.
    resource = arn(call, "secretsmanager", f"secret:{name}-??????")
    accesses = [Access("secretsmanager:CreateSecret", resource, context)]
    if "SecretString" in call.params or "SecretBinary" in call.params:
        accesses += on_behalf(
            call,
            lookup,
            string_param(call, "KmsKeyId"),
            "kms:GenerateDataKey",
            {"SecretARN": resource},
        )
    return accesses


def _batch_get_secret_value(call: Call, lookup: Lookup) -> list[Access]:
    accesses = [Access("secretsmanager:BatchGetSecretValue", "*")]
    for secret_id in call.params.get("SecretIdList") or []:
        if isinstance(secret_id, str):
            single = Call(
                call.service, "GetSecretValue", {"SecretId": secret_id}, call.region, call.account
            )
            accesses += _secret_access(single, lookup, secret_id)
    return accesses


register(
    "secretsmanager",
    {
        **{operation: _secret for operation in _SECRET_OPERATIONS},
        "CreateSecret": _create_secret,
        "BatchGetSecretValue": _batch_get_secret_value,
        "ListSecrets": unscoped,
        "GetRandomPassword": unscoped,
    },
)

# -- SSM Parameter Store --------------------------------------------------------------------


def _parameter_access(call: Call, lookup: Lookup, name: str, decrypt: bool) -> list[Access]:
    found = lookup.parameter(call.account, call.region, name)
    resource = found.arn if found else arn(call, "ssm", f"parameter/{name.lstrip('/')}")
    context = tag_context("", found.tags) if found else {}
    accesses = [Access(f"ssm:{call.operation}", resource, context)]
    if found is not None and decrypt:
        accesses += on_behalf(
            call, lookup, found.kms_key_id, "kms:Decrypt", {"PARAMETER_ARN": found.arn}
        )
    return accesses


def _parameter(call: Call, lookup: Lookup) -> list[Access]:
    name = required_param(call, "Name")
    decrypt = bool(call.params.get("WithDecryption")) and call.operation == "GetParameter"
    return _parameter_access(call, lookup, name, decrypt)


def _parameters(call: Call, lookup: Lookup) -> list[Access]:
    names = [n for n in call.params.get("Names") or [] if isinstance(n, str)]
    if not names:
        required_param(call, "Names")
    decrypt = bool(call.params.get("WithDecryption"))
    accesses: list[Access] = []
    for name in names:
        accesses += _parameter_access(call, lookup, name, decrypt)
    return accesses


def _parameters_by_path(call: Call, lookup: Lookup) -> list[Access]:
    path = required_param(call, "Path")
    return [Access("ssm:GetParametersByPath", arn(call, "ssm", f"parameter/{path.strip('/')}"))]


register(
    "ssm",
    {
        "GetParameter": _parameter,
        "PutParameter": _parameter,
        "DeleteParameter": _parameter,
        "GetParameterHistory": _parameter,
        "LabelParameterVersion": _parameter,
        "GetParameters": _parameters,
        "DeleteParameters": _parameters,
        "GetParametersByPath": _parameters_by_path,
        "DescribeParameters": unscoped,
    },
)
