"""What IAM needs to know from moto's state: who a key belongs to, the policies of that
principal, and the facts about resources the tables ask for (`MotoLookup`).

Keys issued by the emulator are IAM users' access keys and the temporary credentials of
`sts:AssumeRole`; any other key (the fixed admin keys of the local tools) belongs to no
principal here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.iam.access_control import IAMPolicy
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.kms.utils import _deserialize_ciphertext_blob
from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import PARTITION_NAMES, get_partition

from wslocal.emulator.iam.policy import Principal
from wslocal.emulator.iam.resources import KeyInfo, ParameterInfo, RoleInfo, SecretInfo, TableInfo

__all__ = ["IssuedKey", "MotoLookup", "issued_key"]


def _document(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        document = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _tag_pairs(tags: Any) -> dict[str, str]:
    """Tags as moto keeps them ([{Key, Value}], {key: {Key, Value}} or {key: value})."""
    pairs: dict[str, str] = {}
    if isinstance(tags, Mapping):
        for key, value in tags.items():
            pairs[str(key)] = (
                str(value.get("Value", "")) if isinstance(value, Mapping) else str(value)
            )
    elif isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, Mapping):
                key = tag.get("Key", tag.get("TagKey"))
                if key is not None:
                    pairs[str(key)] = str(tag.get("Value", tag.get("TagValue", "")))
    return pairs


class IssuedKey:
    """A key the emulator issued: its principal, policies, secret and expiry."""

    def __init__(self, account: str, partition: str, access_key_id: str) -> None:
        self.account = account
        self.partition = partition
        self.access_key_id = access_key_id
        self.expires: datetime | None = None
        self.temporary = False
        self.user_id = ""
        self.tags: dict[str, str] = {}
        iam = iam_backends[account][partition]
        for role in list(sts_backends[account][partition].assumed_roles):
            if role.access_key_id == access_key_id:
                self.temporary = True
                expiry: datetime = role.expiration
                self.expires = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
                try:
                    found = iam.get_role_by_arn(role.role_arn)
                except Exception:  # noqa: BLE001 - the role was deleted since
                    found = None
                self.role_name = role.role_arn.split("/")[-1]
                self.principal = Principal(role.arn, account, role.role_arn)
                if found is not None:
                    self.user_id = f"{found.id}:{role.session_name}"
                    self.tags = _tag_pairs(found.tags)
                return
        for user in iam.list_users("/", None, None):
            if any(key.access_key_id == access_key_id for key in user.access_keys):
                self.user_name = user.name
                self.principal = Principal(user.arn, account)
                self.user_id = str(user.id)
                self.tags = _tag_pairs(user.tags)
                return
        raise KeyError(access_key_id)

    def identity_policies(self) -> list[dict[str, Any]]:
        """The principal's inline and attached policies (a user's groups' too), now."""
        iam = iam_backends[self.account][self.partition]
        raw: list[Any] = []
        if self.temporary:
            for name in iam.list_role_policies(self.role_name):
                raw.append(iam.get_role_policy(self.role_name, name)[1])
            raw += iam.list_attached_role_policies(self.role_name)[0]
        else:
            for name in iam.list_user_policies(self.user_name):
                raw.append(iam.get_user_policy(self.user_name, name))
            raw += iam.list_attached_user_policies(self.user_name)[0]
            for group in iam.get_groups_for_user(self.user_name):
                for name in iam.list_group_policies(group.name):
                    raw.append(iam.get_group_policy(group.name, name))
                raw += iam.list_attached_group_policies(group.name)[0]
        documents: list[dict[str, Any]] = []
        for policy in raw:
            document = IAMPolicy(policy)._policy_json
            parsed = _document(document)
            if parsed is not None:
                documents.append(parsed)
        return documents


def issued_key(access_key_id: str) -> IssuedKey | None:
    """The issued key `access_key_id`, or None when the emulator did not issue it."""
    for account_id, account in list(iam_backends.items()):
        for partition in PARTITION_NAMES:
            try:
                backend = account[partition]
            except KeyError:
                continue
            if access_key_id in backend.access_keys:
                try:
                    return IssuedKey(str(account_id), partition, access_key_id)
                except KeyError:
                    return None
    return None


class MotoLookup:
    """resources.Lookup over moto's backends of this process."""

    def secret(self, account: str, region: str, secret_id: str) -> SecretInfo | None:
        secrets = secretsmanager_backends[account][region].secrets
        secret = secrets.get(secret_id) if secret_id in secrets else None
        if secret is None:
            return None
        stages: dict[str, str] = {}
        for version_id, version in getattr(secret, "versions", {}).items():
            for stage in version.get("version_stages", []):
                stages[str(stage)] = str(version_id)
        return SecretInfo(
            arn=str(secret.arn),
            kms_key_id=getattr(secret, "kms_key_id", None),
            tags=_tag_pairs(getattr(secret, "tags", None)),
            policy=_document(getattr(secret, "policy", None)),
            version_stages=stages,
            rotation_lambda_arn=getattr(secret, "rotation_lambda_arn", None) or None,
        )

    def table(self, account: str, region: str, name: str) -> TableInfo | None:
        table = dynamodb_backends[account][region].tables.get(name)
        if table is None:
            return None
        sse = table.sse_specification or {}
        key = sse.get("KMSMasterKeyId") if sse.get("Enabled") in {True, "true"} else None
        indexes: dict[str, str] = {}
        for index in list(table.global_indexes) + list(table.indexes):
            hashes = [k["AttributeName"] for k in index.schema if k.get("KeyType") == "HASH"]
            if hashes:
                indexes[index.name] = hashes[0]
        return TableInfo(
            arn=str(table.table_arn),
            kms_key_id=str(key) if key else None,
            hash_key=table.hash_key_attr or None,
            index_hash_keys=indexes,
            tags=_tag_pairs(table.tags),
        )

    def key(self, account: str, region: str, key_id: str) -> KeyInfo | None:
        if key_id.startswith("arn:"):
            region = key_id.split(":")[3] or region
            account = key_id.split(":")[4] or account
        backend = kms_backends[account][region]
        alias = backend.get_alias_name(key_id)
        if alias.startswith("alias/aws/"):
            # moto creates the AWS managed keys lazily; asking for one must not create it.
            found = next((k for k in backend.keys.values() if alias in k.aliases), None)
            if found is None:
                return KeyInfo(
                    f"arn:{get_partition(region)}:kms:{region}:{account}:{alias}",
                    account, None, False, {}, [alias],
                )  # fmt: skip
        try:
            key = backend.keys[backend.any_id_to_key_id(key_id)]
        except (KeyError, TypeError, AttributeError):
            return None
        aliases = sorted(key.aliases)
        return KeyInfo(
            arn=str(key.arn),
            account=str(key.account_id),
            policy=_document(key.policy),
            customer_managed=not any(a.startswith("alias/aws/") for a in aliases),
            tags=dict(backend.tagger.get_tag_dict_for_resource(key.id)),
            aliases=aliases,
            spec=str(key.key_spec),
            usage=str(key.key_usage),
            origin=str(key.origin),
        )

    def key_of_ciphertext(self, blob: str) -> str | None:
        try:
            key_id = _deserialize_ciphertext_blob(base64.b64decode(blob)).key_id
        except (binascii.Error, ValueError, UnicodeDecodeError, Exception):  # noqa: BLE001
            return None
        return str(key_id) or None

    def role(self, role_arn: str) -> RoleInfo | None:
        parts = role_arn.split(":")
        if len(parts) < 6:
            return None
        try:
            role = iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
        except Exception:  # noqa: BLE001 - moto raises its own NotFound
            return None
        return RoleInfo(
            arn=str(role.arn),
            account=parts[4],
            trust_policy=_document(role.assume_role_policy_document),
            tags=_tag_pairs(role.tags),
        )

    def parameter(self, account: str, region: str, name: str) -> ParameterInfo | None:
        backend = ssm_backends[account][region]
        try:
            found = backend.get_parameter(name)
        except Exception:  # noqa: BLE001 - moto raises for versions and labels it lacks
            return None
        if found is None:
            return None
        key = found.keyid if found.parameter_type == "SecureString" else None
        stripped = str(found.name).lstrip("/")
        return ParameterInfo(
            arn=f"arn:{get_partition(region)}:ssm:{region}:{account}:parameter/{stripped}",
            kms_key_id=key,
            tags={},
        )
