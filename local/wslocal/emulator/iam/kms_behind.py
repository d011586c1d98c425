"""The KMS calls a service makes on the caller's behalf, and KMS's own request context.

Secrets Manager decrypts a secret's value with `kms:Decrypt` and encrypts a new value with
`kms:GenerateDataKey` (secretsmanager/latest/userguide/security-encryption.html); DynamoDB
decrypts a table's key with `kms:Decrypt` whenever it reads or writes items of a table
encrypted with a customer managed key (kms/latest/developerguide/services-dynamodb.html);
SSM decrypts a SecureString parameter (services-parameter-store.html). Each call is
authorized for the caller, as if the caller had made it, with `kms:ViaService` =
`<service>.<region>.amazonaws.com`, `kms:CallerAccount` and the service's encryption
context (conditions-kms.html), against the caller's identity policies and the key policy,
which must allow it itself or delegate to IAM (key-policy-default.html).

AWS managed keys (`aws/secretsmanager`, `aws/dynamodb`...) are left out: their key policies
let every principal of the account use them through their service.
"""

from __future__ import annotations

from collections.abc import Mapping

from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.policy import ResourcePolicy
from wslocal.emulator.iam.resources import Access, Call, KeyInfo, Lookup, arn

__all__ = ["key_access", "key_arn", "key_context", "on_behalf"]


def key_arn(call: Call, key_id: str) -> str:
    """The ARN a key id names when the key is unknown (id, ARN, alias name or alias ARN)."""
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return arn(call, "kms", key_id)
    return arn(call, "kms", f"key/{key_id}")


def key_context(
    call: Call, key: KeyInfo | None, encryption_context: Mapping[str, str] | None = None
) -> dict[str, ContextValue]:
    """The condition keys KMS adds to a request on `key`."""
    context: dict[str, ContextValue] = {"kms:CallerAccount": call.account}
    if key is not None:
        context.update(
            {
                "kms:KeySpec": key.spec,
                "kms:KeyUsage": key.usage,
                "kms:KeyOrigin": key.origin,
                "aws:ResourceAccount": key.account,
            }
        )
        if key.aliases:
            context["kms:ResourceAliases"] = list(key.aliases)
        for tag, value in key.tags.items():
            context[f"aws:ResourceTag/{tag}"] = value
    if encryption_context:
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = value
        context["kms:EncryptionContextKeys"] = sorted(encryption_context)
    return context


def key_access(
    call: Call,
    lookup: Lookup,
    action: str,
    key_id: str,
    context: Mapping[str, ContextValue] | None = None,
) -> tuple[Access, KeyInfo | None]:
    """`action` on the key `key_id` names, under its key policy (a key the emulator does not
    know has none: nothing can then allow it, as KMS cannot use a key that does not exist)."""
    key = lookup.key(call.account, call.region, key_id)
    policy = ResourcePolicy(
        key.policy if key is not None else None,
        key.account if key is not None else call.account,
        required=True,
    )
    resource = key.arn if key is not None else key_arn(call, key_id)
    merged = {**key_context(call, key), **(context or {})}
    return Access(action, resource, merged, policy), key


def on_behalf(
    call: Call,
    lookup: Lookup,
    key_id: str | None,
    action: str,
    encryption_context: Mapping[str, str],
) -> list[Access]:
    """The KMS authorization `call.service` makes for the caller on data encrypted with
    `key_id` (None or an AWS managed key: none)."""
    if key_id is None or key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return []
    key = lookup.key(call.account, call.region, key_id)
    if key is not None and not key.customer_managed:
        return []
    context: dict[str, ContextValue] = {
        **key_context(call, key, encryption_context),
        "kms:ViaService": f"{call.service}.{call.region}.amazonaws.com",
        "aws:ViaAWSService": "true",
    }
    access, _ = key_access(call, lookup, action, key_id, context)
    return [
        Access(
            access.action,
            access.resource,
            access.context,
            access.resource_policy,
            via_service=call.service,
        )
    ]
