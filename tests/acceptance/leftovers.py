"""What an acceptance run left behind after `terraform destroy`: every kind of resource the
example creates, listed by the run's name. A secret or a KMS key scheduled for deletion is
gone for the account (not listed, not billed), so only one that is still usable counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["leftovers"]

Client = Callable[[str], Any]


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterable[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**params).get(key, [])


def _named(found: Iterable[str], name: str, kind: str) -> list[str]:
    return [f"{kind} {item}" for item in found if name in item]


def leftovers(client: Client, name: str, kms_key_arn: str | None) -> list[str]:
    """Every resource of the run `name` that still exists, as "kind id" lines."""
    left = _api_and_functions(client, name) + _session_store(client, name)
    left += _domain(client, name) + _monitoring(client, name)
    vpcs = client("ec2").describe_vpcs(Filters=[{"Name": "tag:acceptance-run", "Values": [name]}])
    left += [f"VPC {v['VpcId']}" for v in vpcs.get("Vpcs", [])]
    if kms_key_arn:
        left += _key_left(client("kms"), kms_key_arn)
    return left


def _api_and_functions(client: Client, name: str) -> list[str]:
    apigw = client("apigatewayv2")
    left = _named((a["Name"] for a in apigw.get_apis().get("Items", [])), name, "API")
    left += _named(
        (f["FunctionName"] for f in _pages(client("lambda"), "list_functions", "Functions")),
        name,
        "function",
    )
    left += _named(_pages(client("dynamodb"), "list_tables", "TableNames"), name, "table")
    left += _named(
        (r["RoleName"] for r in _pages(client("iam"), "list_roles", "Roles")), name, "role"
    )
    left += _named(
        (g["logGroupName"] for g in _pages(client("logs"), "describe_log_groups", "logGroups")),
        name,
        "log group",
    )
    left += _named(
        (s["Name"] for s in _pages(client("secretsmanager"), "list_secrets", "SecretList")),
        name,
        "secret",
    )
    return left


def _session_store(client: Client, name: str) -> list[str]:
    """The replication group and what it needs: subnet group, users and user group (these
    last two only with IAM authentication)."""
    elasticache = client("elasticache")
    left = _named(
        (
            g["ReplicationGroupId"]
            for g in _pages(elasticache, "describe_replication_groups", "ReplicationGroups")
        ),
        name,
        "replication group",
    )
    left += _named(
        (
            g["CacheSubnetGroupName"]
            for g in _pages(elasticache, "describe_cache_subnet_groups", "CacheSubnetGroups")
        ),
        name,
        "cache subnet group",
    )
    left += _named(
        (u["UserId"] for u in _pages(elasticache, "describe_users", "Users")), name, "user"
    )
    left += _named(
        (g["UserGroupId"] for g in _pages(elasticache, "describe_user_groups", "UserGroups")),
        name,
        "user group",
    )
    return left


def _domain(client: Client, name: str) -> list[str]:
    """The custom domain, its certificate and, when the run created it, its hosted zone."""
    apigw = client("apigatewayv2")
    left = _named(
        (d["DomainName"] for d in apigw.get_domain_names().get("Items", [])), f"{name}.", "domain"
    )
    left += _named(
        (
            c["DomainName"]
            for c in _pages(client("acm"), "list_certificates", "CertificateSummaryList")
        ),
        f"{name}.",
        "certificate",
    )
    left += _named(
        (z["Name"] for z in _pages(client("route53"), "list_hosted_zones", "HostedZones")),
        f"{name}.",
        "hosted zone",
    )
    return left


def _monitoring(client: Client, name: str) -> list[str]:
    cloudwatch = client("cloudwatch")
    left = _named(
        (a["AlarmName"] for a in _pages(cloudwatch, "describe_alarms", "MetricAlarms")),
        name,
        "alarm",
    )
    left += _named(
        (d["DashboardName"] for d in _pages(cloudwatch, "list_dashboards", "DashboardEntries")),
        name,
        "dashboard",
    )
    left += _named(
        (t["TopicArn"] for t in _pages(client("sns"), "list_topics", "Topics")), name, "topic"
    )
    return left


def _key_left(kms: Any, key_arn: str) -> list[str]:
    try:
        state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    except kms.exceptions.NotFoundException:
        return []
    return (
        []
        if state in {"PendingDeletion", "PendingReplicaDeletion"}
        else [f"KMS key {key_arn} ({state})"]
    )
