"""IAM tables of KMS and STS: the two services whose resource policies must allow a request
themselves (a key policy, a role's trust policy).

- KMS (list_awskeymanagementservice.html, conditions-kms.html): operations on a key name
  the key's ARN (an alias is resolved to its key; `Decrypt` without `KeyId` takes the key
  the ciphertext was encrypted with); the key policy is read; `kms:CallerAccount`,
  `kms:EncryptionContext:*`, `kms:EncryptionContextKeys`, `kms:EncryptionAlgorithm`,
  `kms:KeySpec`/`KeyUsage`/`KeyOrigin`, `kms:RequestAlias` (an alias in `KeyId`) and
  `kms:ResourceAliases` are supplied. Called directly, `kms:ViaService` is absent.
- STS (list_awssecuritytokenservice.html, id_roles_terms-and-concepts.html):
  `sts:AssumeRole` is authorized on the role's ARN against the caller's identity policies
  and the role's trust policy, with `sts:RoleSessionName`, `sts:ExternalId`,
  `sts:SourceIdentity`, `sts:TransitiveTagKeys` and the request's tags.
  `GetCallerIdentity` needs no permission (it answers even under an explicit Deny).
"""

from __future__ import annotations

from collections.abc import Mapping

from wslocal.emulator.iam.kms_behind import key_access
from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.policy import ResourcePolicy
from wslocal.emulator.iam.resources import (
    Access,
    Call,
    InvalidRequest,
    Lookup,
    Mapper,
    arn,
    register,
    request_tag_context,
    required_param,
    string_param,
    unscoped,
)

__all__ = ["NO_PERMISSION_NEEDED"]

# Operations AWS answers for any valid credentials.
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})

# -- KMS ------------------------------------------------------------------------------------

_KEY_OPERATIONS = (
    "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "DescribeKey", "GetKeyPolicy", "PutKeyPolicy",
    "GetKeyRotationStatus", "EnableKeyRotation", "DisableKeyRotation", "ListResourceTags",
    "TagResource", "UntagResource", "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKey",
    "DisableKey", "CreateGrant", "ListGrants", "RetireGrant", "RevokeGrant", "Sign", "Verify",
    "GetPublicKey", "GenerateMac", "VerifyMac", "UpdateKeyDescription", "ListKeyPolicies",
    "ListKeyRotations", "RotateKeyOnDemand",
)  # fmt: skip
_UNSCOPED_KMS = ("ListKeys", "ListAliases", "CreateKey", "GenerateRandom", "ListRetirableGrants")


def _kms_context(call: Call) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    encryption_context = call.params.get("EncryptionContext")
    if isinstance(encryption_context, Mapping) and encryption_context:
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = str(value)
        context["kms:EncryptionContextKeys"] = sorted(str(k) for k in encryption_context)
    algorithm = string_param(call, "EncryptionAlgorithm")
    if call.operation in {"Encrypt", "Decrypt", "ReEncrypt"}:
        context["kms:EncryptionAlgorithm"] = algorithm or "SYMMETRIC_DEFAULT"
    key_id = string_param(call, "KeyId")
    if key_id is not None and (key_id.startswith("alias/") or ":alias/" in key_id):
        context["kms:RequestAlias"] = "alias/" + key_id.split("alias/", 1)[1]
    if call.operation in {"TagResource", "UntagResource"}:
        context.update(request_tag_context(call.params.get("Tags")))
        if isinstance(call.params.get("TagKeys"), list):
            context["aws:TagKeys"] = [str(k) for k in call.params["TagKeys"]]
    return context


def _key(call: Call, lookup: Lookup) -> list[Access]:
    key_id = required_param(call, "KeyId")
    access, _ = key_access(call, lookup, f"kms:{call.operation}", key_id, _kms_context(call))
    return [access]


def _decrypt(call: Call, lookup: Lookup) -> list[Access]:
    key_id = string_param(call, "KeyId")
    if key_id is None:
        blob = string_param(call, "CiphertextBlob")
        key_id = lookup.key_of_ciphertext(blob) if blob else None
    if key_id is None:
        raise InvalidRequest("the ciphertext names no KMS key the emulator knows")
    access, _ = key_access(call, lookup, "kms:Decrypt", key_id, _kms_context(call))
    return [access]


def _create_alias(call: Call, lookup: Lookup) -> list[Access]:
    alias = required_param(call, "AliasName")
    key, _ = key_access(call, lookup, f"kms:{call.operation}", required_param(call, "TargetKeyId"))
    return [Access(f"kms:{call.operation}", arn(call, "kms", alias)), key]


def _kms_unscoped(call: Call, lookup: Lookup) -> list[Access]:
    context: dict[str, ContextValue] = {}
    if call.operation == "CreateKey":
        context.update(request_tag_context(call.params.get("Tags")))
        for param, key in (
            ("KeySpec", "KeySpec"),
            ("KeyUsage", "KeyUsage"),
            ("Origin", "KeyOrigin"),
        ):
            if isinstance(call.params.get(param), str):
                context[f"kms:{key}"] = call.params[param]
    return [Access(f"kms:{call.operation}", "*", context)]


_KMS: dict[str, Mapper] = {operation: _key for operation in _KEY_OPERATIONS}
_KMS.update(
    {
        "Decrypt": _decrypt,
        "CreateAlias": _create_alias,
        "UpdateAlias": _create_alias,
        **{operation: _kms_unscoped for operation in _UNSCOPED_KMS},
    }
)
register("kms", _KMS)

# -- STS ------------------------------------------------------------------------------------


def _assume_role(call: Call, lookup: Lookup) -> list[Access]:
    role_arn = required_param(call, "RoleArn")
    role = lookup.role(role_arn)
    context: dict[str, ContextValue] = {}
    for param, key in (
        ("RoleSessionName", "RoleSessionName"),
        ("ExternalId", "ExternalId"),
        ("SourceIdentity", "SourceIdentity"),
    ):
        if isinstance(call.params.get(param), str):
            context[f"sts:{key}"] = call.params[param]
    context.update(request_tag_context(call.params.get("Tags")))
    transitive = call.params.get("TransitiveTagKeys")
    if isinstance(transitive, list):
        context["sts:TransitiveTagKeys"] = [str(k) for k in transitive]
    if role is not None:
        for tag, value in role.tags.items():
            context[f"aws:ResourceTag/{tag}"] = value
        context["aws:ResourceAccount"] = role.account
    # A role that does not exist has no trust policy: nothing can allow assuming it.
    trust = ResourcePolicy(
        role.trust_policy if role is not None else None,
        role.account if role is not None else call.account,
        required=True,
        label="role trust policy",
    )
    return [Access("sts:AssumeRole", role.arn if role else role_arn, context, trust)]


register(
    "sts",
    {
        "AssumeRole": _assume_role,
        "GetCallerIdentity": unscoped,
        "GetSessionToken": unscoped,
        "DecodeAuthorizationMessage": unscoped,
        "GetAccessKeyInfo": unscoped,
    },
)
