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

__all__ = [
    "BOTO_CONFIG",
    "MANAGEMENT_API_CONFIG",
    "PUSH_CONCURRENCY",
    "REGISTRY_BUDGET_SECONDS",
    "dynamodb",
    "management_api",
    "reset_clients",
    "secretsmanager",
    "ssm",
]

# DynamoDB, Secrets Manager and SSM: bounded retries with exponential backoff and jitter and
# short socket timeouts, so a throttled or unreachable service ends in a clean rejection
# inside the function's timeout. The budget of one call (e.g. the PutItem of $connect):
#   * no answer: 3 attempts ("total_max_attempts" counts the first one; "max_attempts" would
#     count retries only) of at most 1 s to connect + 1 s to read = 6 s, plus backoffs of at
#     most 0.025 + 0.05 s (DynamoDB's scale for non-throttling errors): about 6.1 s;
#   * throttled: the answers come at once, the backoffs are at most 1 + 2 s: about 3 s.
# REGISTRY_BUDGET_SECONDS (7 s) covers both. The connection handler's timeout must exceed
# BACKEND_TIMEOUT_SECONDS + this (Terraform requires it; 20 s by default), and the handler
# shortens its backend call when the Lambda has less time left (handler.py). Two cases can
# exceed 7 s and are left to that guard: every throttled answer also taking the full socket
# timeouts (9 s), and an x-amz-retry-after hint, which botocore honours up to 5 s per retry.
#
# A push posts to many connections at once (ws_bridge.push): PUSH_CONCURRENCY threads share
# one @connections client, so its connection pool holds as many connections (botocore's
# default, 10, would make the other threads open and discard connections). DynamoDB (the
# 410 cleanup runs in the same threads) gets the same pool size.
PUSH_CONCURRENCY = 32

BOTO_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=1,
    read_timeout=1,
    max_pool_connections=PUSH_CONCURRENCY,
)
REGISTRY_BUDGET_SECONDS = 7.0

# @connections (PostToConnection) is not idempotent: after a read timeout or a 5xx the
# message may already have reached the client, and botocore's standard mode would send it
# again. One attempt only; the caller sees FAILED and decides. (botocore cannot be told to
# retry only the failures that certainly sent nothing, such as a refused connection.)
MANAGEMENT_API_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=1,
    read_timeout=2,
    max_pool_connections=PUSH_CONCURRENCY,
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
    """The ``@connections`` client for one API stage.

    ``endpoint_url`` is the stage's base URL, ``https://{api-id}.execute-api.{region}.
    amazonaws.com/{stage}``, without ``/@connections`` (boto3 adds it to each call).
    """
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=endpoint_url, config=MANAGEMENT_API_CONFIG
    )


def reset_clients() -> None:
    """Forget every cached client (tests start a fresh moto backend per test)."""
    for factory in (dynamodb, secretsmanager, ssm, management_api):
        factory.cache_clear()
