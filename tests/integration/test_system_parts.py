"""The optional parts of the system (modules/session_store, custom_domain, monitoring) applied
to the local emulator and destroyed again.

One Terraform configuration, written to a temporary directory with the sub-modules referenced
by absolute path, is applied to an emulator of its own (`python -m wslocal.emulator` on a free
port) through the offline provider mirror. The tests read what was created back with boto3.
The destroy is the acceptance suite's (tests/acceptance), which applies the same parts and
checks that nothing of them is left; a second destroy here took 90 s of ElastiCache waiters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from wslocal.stack import REPO_ROOT, ManagedProcess, free_port, provider_mirror

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REGION = "us-east-1"
TERRAFORM_TIMEOUT_SECONDS = 420

CONFIGURATION = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
}

resource "aws_vpc" "this" {
  cidr_block = "10.20.0.0/16"
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.20.2.0/24"
  availability_zone = "us-east-1b"
}

resource "aws_security_group" "backend" {
  name        = "it-backend"
  description = "The backend"
  vpc_id      = aws_vpc.this.id
}

# IAM authentication (the default), two nodes.
module "sessions_iam" {
  source = "@MODULES@/session_store"

  name                      = "it-iam"
  vpc_id                    = aws_vpc.this.id
  subnet_ids                = [aws_subnet.a.id, aws_subnet.b.id]
  client_security_group_ids = [aws_security_group.backend.id]
  apply_immediately         = true
}

# An AUTH token in Secrets Manager, one node.
module "sessions_token" {
  source = "@MODULES@/session_store"

  name                           = "it-token"
  engine                         = "redis"
  engine_version                 = "7.1"
  num_cache_clusters             = 1
  vpc_id                         = aws_vpc.this.id
  subnet_ids                     = [aws_subnet.a.id]
  client_security_group_ids      = [aws_security_group.backend.id]
  authentication                 = "auth_token"
  secret_recovery_window_in_days = 0
  apply_immediately              = true
}

resource "aws_apigatewayv2_api" "this" {
  name                       = "it"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_stage" "this" {
  api_id = aws_apigatewayv2_api.this.id
  name   = "live"
}

resource "aws_route53_zone" "this" {
  name = "example.com"
}

# A certificate created and validated through the zone, a base path, an alias record.
module "domain" {
  source = "@MODULES@/custom_domain"

  domain_name     = "ws.example.com"
  api_id          = aws_apigatewayv2_api.this.id
  stage_name      = aws_apigatewayv2_stage.this.name
  api_mapping_key = "realtime"
  route53_zone_id = aws_route53_zone.this.zone_id
}

module "monitoring" {
  source = "@MODULES@/monitoring"

  name       = "it"
  api_id     = aws_apigatewayv2_api.this.id
  stage_name = aws_apigatewayv2_stage.this.name
  functions = {
    authorizer         = { function_name = "it-authorizer", timeout_seconds = 10 }
    connection_handler = { function_name = "it-connection-handler", timeout_seconds = 20 }
  }
  table_name = "it-connections"
}

output "api_id" {
  value = aws_apigatewayv2_api.this.id
}

output "zone_id" {
  value = aws_route53_zone.this.zone_id
}

output "domain" {
  value = module.domain
}

output "monitoring" {
  value = module.monitoring
}

output "backend_security_group_id" {
  value = aws_security_group.backend.id
}

output "sessions_iam" {
  value = module.sessions_iam
}

output "sessions_token" {
  value = module.sessions_token
}
"""


@dataclass(frozen=True)
class Applied:
    """The applied configuration: its outputs and boto3 clients of the emulator."""

    outputs: dict[str, Any]
    endpoint_url: str
    workdir: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def _environment(endpoint_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "TF_CLI_CONFIG_FILE"
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "lambda"), str(REPO_ROOT / "local")]),
    )
    return env


def _terraform(workdir: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["terraform", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TERRAFORM_TIMEOUT_SECONDS,
        check=False,
    )
    with (workdir / "terraform.log").open("a") as log:
        log.write(f"$ terraform {' '.join(args)}\n{result.stdout}\n{result.stderr}\n")
    if result.returncode != 0:
        raise AssertionError(
            f"terraform {args[0]} exited with {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result.stdout


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    logs = tmp_path_factory.mktemp("emulator")
    process = ManagedProcess(
        "emulator",
        [sys.executable, "-m", "wslocal.emulator", "--port", str(port)],
        _environment(f"http://127.0.0.1:{port}"),
        logs / "emulator.log",
    )
    try:
        process.wait_ready(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=10)


@pytest.fixture(scope="module")
def applied(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Applied:
    """The configuration applied. Not destroyed: the emulator goes with the module, and the
    acceptance suite destroys these parts and checks that nothing is left (leftovers.py)."""
    workdir = tmp_path_factory.mktemp("system-parts")
    (workdir / "main.tf").write_text(CONFIGURATION.replace("@MODULES@", str(REPO_ROOT / "modules")))
    env = _environment(emulator)
    init = ["init", "-input=false", "-no-color"]
    mirror = provider_mirror()
    if mirror and Path(mirror).is_dir():
        init.append(f"-plugin-dir={mirror}")
    _terraform(workdir, env, *init)
    _terraform(workdir, env, "apply", "-auto-approve", "-input=false", "-no-color")
    raw = json.loads(_terraform(workdir, env, "output", "-json"))
    return Applied({k: v["value"] for k, v in raw.items()}, emulator, workdir)


def test_session_store_with_iam_authentication(applied: Applied) -> None:
    store = applied.outputs["sessions_iam"]
    elasticache = applied.client("elasticache")

    (group,) = elasticache.describe_replication_groups(ReplicationGroupId="it-iam-sessions")[
        "ReplicationGroups"
    ]
    assert group["TransitEncryptionEnabled"] is True
    assert group["AutomaticFailover"] == "enabled"
    assert group["MultiAZ"] == "enabled"
    assert group["UserGroupIds"] == ["it-iam-sessions"]
    assert len(group["MemberClusters"]) == 2

    (user_group,) = elasticache.describe_user_groups(UserGroupId="it-iam-sessions")["UserGroups"]
    assert sorted(user_group["UserIds"]) == ["it-iam-backend", "it-iam-default"]
    users = {u["UserId"]: u for u in elasticache.describe_users()["Users"]}
    assert users["it-iam-backend"]["Authentication"]["Type"] == "iam"
    assert users["it-iam-default"]["AccessString"].startswith("off")

    assert store["endpoint"] == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    assert store["url"] == f"rediss://{store['endpoint']}:6379"
    assert store["tls_enabled"] is True
    assert store["auth_token_secret_arn"] is None
    policy = json.loads(store["client_policy_json"])
    assert policy["Statement"] == [
        {
            "Sid": "ConnectToSessionStore",
            "Effect": "Allow",
            "Action": ["elasticache:Connect"],
            "Resource": [group["ARN"], users["it-iam-backend"]["ARN"]],
        }
    ]


def test_session_store_admits_only_the_backend(applied: Applied) -> None:
    ec2 = applied.client("ec2")
    backend = applied.outputs["backend_security_group_id"]
    for store in ("sessions_iam", "sessions_token"):
        group_id = applied.outputs[store]["security_group_id"]
        (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        permissions = [
            (p["IpProtocol"], p["FromPort"], p["ToPort"], p.get("IpRanges", []), pair["GroupId"])
            for p in group["IpPermissions"]
            for pair in p.get("UserIdGroupPairs", [])
        ]
        assert permissions == [("tcp", 6379, 6379, [], backend)]
        assert all(not p.get("IpRanges") for p in group["IpPermissions"])


def test_session_store_with_auth_token(applied: Applied) -> None:
    store = applied.outputs["sessions_token"]
    (group,) = applied.client("elasticache").describe_replication_groups(
        ReplicationGroupId="it-token-sessions"
    )["ReplicationGroups"]
    assert group["TransitEncryptionEnabled"] is True
    assert group["AutomaticFailover"] == "disabled"
    assert group.get("UserGroupIds", []) == []

    token = applied.client("secretsmanager").get_secret_value(
        SecretId=store["auth_token_secret_arn"]
    )["SecretString"]
    assert len(token) == 64
    assert token.isalnum()
    policy = json.loads(store["client_policy_json"])
    assert [s["Action"] for s in policy["Statement"]] == [["secretsmanager:GetSecretValue"]]
    assert policy["Statement"][0]["Resource"] == [store["auth_token_secret_arn"]]


def test_custom_domain(applied: Applied) -> None:
    domain = applied.outputs["domain"]
    apigw = applied.client("apigatewayv2")
    (config,) = apigw.get_domain_name(DomainName="ws.example.com")["DomainNameConfigurations"]
    assert config["EndpointType"] == "REGIONAL"
    assert config["SecurityPolicy"] == "TLS_1_2"
    assert config["CertificateArn"] == domain["certificate_arn"]
    certificate = applied.client("acm").describe_certificate(
        CertificateArn=domain["certificate_arn"]
    )["Certificate"]
    assert certificate["DomainName"] == "ws.example.com"
    assert certificate["DomainValidationOptions"][0]["ValidationMethod"] == "DNS"

    (mapping,) = apigw.get_api_mappings(DomainName="ws.example.com")["Items"]
    assert (mapping["ApiId"], mapping["Stage"], mapping["ApiMappingKey"]) == (
        applied.outputs["api_id"],
        "live",
        "realtime",
    )

    records = applied.client("route53").list_resource_record_sets(
        HostedZoneId=applied.outputs["zone_id"]
    )["ResourceRecordSets"]
    validation = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    assert any(r["Name"] == validation["Name"] and r["Type"] == "CNAME" for r in records)
    (alias,) = [r for r in records if r["Name"].rstrip(".") == "ws.example.com"]
    assert alias["Type"] == "A"
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == config["ApiGatewayDomainName"]
    assert alias["AliasTarget"]["HostedZoneId"] == config["HostedZoneId"]

    assert domain["websocket_url"] == "wss://ws.example.com/realtime"
    assert domain["callback_url"] == "https://ws.example.com/realtime"
    assert domain["connections_url"] == "https://ws.example.com/realtime/@connections"


def test_monitoring(applied: Applied) -> None:
    monitoring = applied.outputs["monitoring"]
    cloudwatch = applied.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(alarms) == set(monitoring["alarm_names"].values())
    assert len(alarms) == 10
    (topic,) = monitoring["alarm_topic_arns"]
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in alarms.values())

    stage = {"ApiId": applied.outputs["api_id"], "Stage": "live"}
    for name, metric in (
        ("it-integration-errors", "IntegrationError"),
        ("it-execution-errors", "ExecutionError"),
        ("it-client-errors", "ClientError"),
    ):
        assert alarms[name]["Namespace"] == "AWS/ApiGateway"
        assert alarms[name]["MetricName"] == metric
        assert {d["Name"]: d["Value"] for d in alarms[name]["Dimensions"]} == stage
    duration = alarms["it-connection-handler-duration"]
    assert duration["Dimensions"] == [{"Name": "FunctionName", "Value": "it-connection-handler"}]
    assert duration["Threshold"] == 16000
    throttles = alarms["it-dynamodb-throttles"]
    tables = {
        d["Value"]
        for query in throttles["Metrics"]
        if "MetricStat" in query
        for d in query["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "TableName"
    }
    assert tables == {"it-connections"}

    body = json.loads(cloudwatch.get_dashboard(DashboardName="it")["DashboardBody"])
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert ["AWS/ApiGateway", "ConnectCount", *sum(stage.items(), ())] in metrics

    attributes = applied.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == monitoring["alarm_topic_kms_key_arn"]
