"""boto3 clients, created once per container and only when first needed.

Endpoints come from boto3's own ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>`` handling,
so the same code runs against AWS, LocalStack or moto's server.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

__all__ = ["BOTO_CONFIG", "dynamodb", "management_api", "reset_clients", "secretsmanager", "ssm"]

# Bounded retries with exponential backoff and jitter, and short socket timeouts, so a
# throttled or unreachable service ends in a clean rejection well inside API Gateway's 29 s:
# at most 3 attempts (botocore's "max_attempts" would count retries only, so 4 attempts) of
# at most 1 + 2 s each, with at most 1 + 2 s of backoff between them: 12 s in the worst case.
BOTO_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=1,
    read_timeout=2,
)


@functools.cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=BOTO_CONFIG)


@functools.cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=BOTO_CONFIG)


@functools.cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=BOTO_CONFIG)


@functools.cache
def management_api(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """The ``@connections`` client for one API stage (``https://{api}.execute-api…/{stage}``)."""
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=BOTO_CONFIG)


def reset_clients() -> None:
    """Forget every cached client (tests start a fresh moto backend per test)."""
    for factory in (dynamodb, secretsmanager, ssm, management_api):
        factory.cache_clear()
