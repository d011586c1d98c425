"""The optional parts of the system (modules/session_store, ...) applied to the local emulator
and destroyed again.

One Terraform configuration, written to a temporary directory with the sub-modules referenced
by absolute path, is applied to an emulator of its own (`python -m wslocal.emulator` on a free
port) through the offline provider mirror. The tests read what was created back with boto3,
then destroy it and check that nothing is left behind.
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
def applied(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    """The configuration applied; destroyed after the module's last test (which checks it)."""
    workdir = tmp_path_factory.mktemp("system-parts")
    (workdir / "main.tf").write_text(CONFIGURATION.replace("@MODULES@", str(REPO_ROOT / "modules")))
    env = _environment(emulator)
    init = ["init", "-input=false", "-no-color"]
    mirror = provider_mirror()
    if mirror and Path(mirror).is_dir():
        init.append(f"-plugin-dir={mirror}")
    _terraform(workdir, env, *init)
    try:
        _terraform(workdir, env, "apply", "-auto-approve", "-input=false", "-no-color")
        raw = json.loads(_terraform(workdir, env, "output", "-json"))
        yield Applied({k: v["value"] for k, v in raw.items()}, emulator, workdir)
    finally:
        (workdir / "destroyed").write_text(
            _terraform(workdir, env, "destroy", "-auto-approve", "-input=false", "-no-color")
        )


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


def test_destroy_leaves_nothing_behind(applied: Applied, emulator: str) -> None:
    """Runs last: destroys now (the fixture's destroy then finds nothing) and checks."""
    env = _environment(emulator)
    _terraform(applied.workdir, env, "destroy", "-auto-approve", "-input=false", "-no-color")
    elasticache = applied.client("elasticache")
    assert elasticache.describe_replication_groups()["ReplicationGroups"] == []
    assert elasticache.describe_user_groups()["UserGroups"] == []
    assert {u["UserId"] for u in elasticache.describe_users()["Users"]} == {"default"}
    assert [
        g["CacheSubnetGroupName"]
        for g in elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"]
        if g["CacheSubnetGroupName"].startswith("it-")
    ] == []
    assert applied.client("secretsmanager").list_secrets()["SecretList"] == []
