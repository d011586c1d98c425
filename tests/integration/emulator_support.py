"""An emulator of its own for the tests of the emulator's extensions, and clients of it:
`python -m wslocal.emulator --port 0` (moto is patched in that process, not the tests')."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from wslocal.stack import REPO_ROOT, ManagedProcess

__all__ = [
    "ACCOUNT",
    "REGION",
    "admin_client",
    "create_role",
    "emulator",
    "error_code",
    "role_credentials",
]

REGION = "us-east-1"
ACCOUNT = "123456789012"
LAMBDA_TRUST = {"Service": "lambda.amazonaws.com"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator's URL; it must stop cleanly at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT / "local")
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    process = ManagedProcess(
        "emulator", [sys.executable, "-m", "wslocal.emulator", "--port", "0"], env, log
    )
    try:
        port = process.wait_ready(0, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=10)
    assert process.process.returncode == 0, (
        f"the emulator did not stop cleanly:\n{process.log_tail()}"
    )
    assert "emulator stopped" in log.read_text()


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def admin_client(emulator: str, service: str, **credentials: str) -> Any:
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test", **credentials}
    return boto3.client(service, endpoint_url=emulator, region_name=REGION, **keys)  # type: ignore[call-overload]


def create_role(
    emulator: str,
    name: str,
    statements: list[dict[str, Any]],
    trusted: dict[str, Any] | None = None,
) -> str:
    """A new role trusting `trusted` (Lambda by default), its inline policy `statements`."""
    iam = admin_client(emulator, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": trusted or LAMBDA_TRUST, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="inline",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return role_arn


def role_credentials(
    emulator: str,
    name: str,
    statements: list[dict[str, Any]],
    trusted: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Temporary credentials of a new role whose inline policy holds `statements`."""
    role_arn = create_role(emulator, name, statements, trusted)
    issued = admin_client(emulator, "sts").assume_role(RoleArn=role_arn, RoleSessionName=name)
    c = issued["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
