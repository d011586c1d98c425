"""What a request asks of IAM: the authorizations AWS makes for one API call.

An API call (`Call`: service, operation, parameters, region, account) becomes one or more
`Access`es: an IAM action on a resource ARN, with the condition keys the service adds to
the request context and the resource's own policy when it has one. The tables are explicit,
one module per group of services (`services_data`, `services_keys`, `services_other`); an
operation no table lists raises `UnmappedRequest`, and the emulator refuses the call
loudly rather than evaluate it against a resource it does not know.

Where a service reads or writes data encrypted with a customer managed key on the caller's
behalf (Secrets Manager, DynamoDB, SSM), the table adds the KMS authorization too
(`kms_behind`): `kms:Decrypt` or `kms:GenerateDataKey` on the key, with `kms:ViaService`
`<service>.<region>.amazonaws.com`, evaluated against the caller's identity policies and
the key policy.

The facts the tables need about existing resources (a secret's full ARN and key, a table's
key and partition key, a key's policy...) come from a `Lookup`: moto's state in the
emulator (`moto_state`), or nothing (every resource unknown) for pure evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.policy import ResourcePolicy

__all__ = [
    "Access",
    "Call",
    "InvalidRequest",
    "KeyInfo",
    "Lookup",
    "NoLookup",
    "ParameterInfo",
    "RoleInfo",
    "SecretInfo",
    "TableInfo",
    "UnmappedRequest",
    "accesses",
    "arn",
    "mapped_operations",
    "partition",
    "register",
    "request_tag_context",
    "required_param",
    "string_param",
    "tag_context",
    "unscoped",
]


class UnmappedRequest(LookupError):
    """The emulator has no IAM mapping for this operation: it refuses instead of guessing."""


class InvalidRequest(ValueError):
    """The request lacks what AWS needs to authorize it (a ValidationException on AWS)."""


@dataclass(frozen=True)
class Call:
    service: str  # the IAM service prefix: dynamodb, secretsmanager, kms, sts...
    operation: str  # the API operation: GetSecretValue
    params: Mapping[str, Any]
    region: str
    account: str  # the account the call is made in (the caller's)


@dataclass(frozen=True)
class Access:
    """One authorization: `action` on `resource` (an ARN, or `*` for actions without
    resource-level permissions), with the service's condition keys in `context`."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_policy: ResourcePolicy | None = None
    # Set for the KMS call a service makes on the caller's behalf: "secretsmanager"...
    via_service: str | None = None


@dataclass(frozen=True)
class SecretInfo:
    arn: str
    kms_key_id: str | None  # as stored (key id, key ARN, alias name or alias ARN); None: default
    tags: Mapping[str, str]
    policy: Mapping[str, Any] | None
    version_stages: Mapping[str, str]  # stage -> version id
    rotation_lambda_arn: str | None = None


@dataclass(frozen=True)
class TableInfo:
    arn: str
    kms_key_id: str | None  # the SSE key when it is not DynamoDB's own
    hash_key: str | None
    index_hash_keys: Mapping[str, str]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class KeyInfo:
    arn: str
    account: str
    policy: Mapping[str, Any] | None
    customer_managed: bool
    tags: Mapping[str, str]
    aliases: Sequence[str]
    spec: str = "SYMMETRIC_DEFAULT"
    usage: str = "ENCRYPT_DECRYPT"
    origin: str = "AWS_KMS"


@dataclass(frozen=True)
class RoleInfo:
    arn: str
    account: str
    trust_policy: Mapping[str, Any] | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ParameterInfo:
    arn: str
    kms_key_id: str | None  # SecureString parameters only
    tags: Mapping[str, str]


class Lookup(Protocol):
    """Facts about existing resources; None: no such resource."""

    def secret(self, account: str, region: str, secret_id: str) -> SecretInfo | None: ...
    def table(self, account: str, region: str, name: str) -> TableInfo | None: ...
    def key(self, account: str, region: str, key_id: str) -> KeyInfo | None: ...
    def key_of_ciphertext(self, blob: str) -> str | None: ...
    def role(self, role_arn: str) -> RoleInfo | None: ...
    def parameter(self, account: str, region: str, name: str) -> ParameterInfo | None: ...


class NoLookup:
    """Every resource unknown: for evaluation from the request alone."""

    def secret(self, account: str, region: str, secret_id: str) -> SecretInfo | None:
        return None

    def table(self, account: str, region: str, name: str) -> TableInfo | None:
        return None

    def key(self, account: str, region: str, key_id: str) -> KeyInfo | None:
        return None

    def key_of_ciphertext(self, blob: str) -> str | None:
        return None

    def role(self, role_arn: str) -> RoleInfo | None:
        return None

    def parameter(self, account: str, region: str, name: str) -> ParameterInfo | None:
        return None


Mapper = Callable[[Call, Lookup], list[Access]]
_TABLES: dict[str, dict[str, Mapper]] = {}


def register(service: str, operations: Mapping[str, Mapper]) -> None:
    """Add `service`'s operations to the tables (each services_* module at import)."""
    _TABLES.setdefault(service, {}).update(operations)


def mapped_operations() -> dict[str, frozenset[str]]:
    """Every service and operation the tables know (for documentation and tests)."""
    _load()
    return {service: frozenset(table) for service, table in _TABLES.items()}


def _load() -> None:
    # The services_* modules register themselves; imported here, not at the top, because
    # they import this module.
    from wslocal.emulator.iam import (  # noqa: F401
        services_data,
        services_keys,
        services_other,
        services_queues,
    )


def accesses(call: Call, lookup: Lookup) -> list[Access]:
    """The authorizations AWS makes for `call`; UnmappedRequest when none is known."""
    _load()
    table = _TABLES.get(call.service)
    if table is None or call.operation not in table:
        raise UnmappedRequest(
            f"the local IAM has no mapping for {call.service}:{call.operation}: it refuses "
            "what it cannot evaluate as AWS does (add the operation to a services_* table "
            "of wslocal.emulator.iam)"
        )
    return table[call.operation](call, lookup)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn(call: Call, service: str, resource: str, *, region: bool = True) -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>` in the call's account."""
    where = call.region if region else ""
    return f"arn:{partition(call.region)}:{service}:{where}:{call.account}:{resource}"


def tag_context(prefix: str, tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """`aws:ResourceTag/<key>` (and `<prefix>:ResourceTag/<key>` when the service has its
    own) for each tag of the resource."""
    context: dict[str, ContextValue] = {}
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        if prefix:
            context[f"{prefix}:ResourceTag/{key}"] = value
    return context


def request_tag_context(tags: Any) -> dict[str, ContextValue]:
    """`aws:RequestTag/<key>` and `aws:TagKeys` for tags given as [{Key, Value}] or a map."""
    pairs: dict[str, str] = {}
    if isinstance(tags, Mapping):
        pairs = {str(k): str(v) for k, v in tags.items()}
    elif isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, Mapping) and "Key" in tag:
                pairs[str(tag["Key"])] = str(tag.get("Value", ""))
    if not pairs:
        return {}
    context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in pairs.items()}
    context["aws:TagKeys"] = sorted(pairs)
    return context


def unscoped(call: Call, lookup: Lookup) -> list[Access]:
    """An action without resource-level permissions: its resource is `*`."""
    return [Access(f"{call.service}:{call.operation}", "*")]


def string_param(call: Call, name: str) -> str | None:
    value = call.params.get(name)
    return value if isinstance(value, str) and value else None


def required_param(call: Call, name: str) -> str:
    value = string_param(call, name)
    if value is None:
        raise InvalidRequest(
            f"1 validation error detected: Value null at '{name}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value
