"""boto3 clients, created once per container and only when first needed.

Endpoints come from boto3's own ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>`` handling,
so the same code runs against AWS, LocalStack or moto's server.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from ws_bridge_backend import contract

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "BOTO_CONFIG",
    "DYNAMODB_CONFIG",
    "MANAGEMENT_API_CONFIG",
    "PUSH_CONCURRENCY",
    "REGISTRY_ATTEMPTS",
    "REGISTRY_ATTEMPT_SECONDS",
    "REGISTRY_BACKOFF_SECONDS",
    "REGISTRY_BUDGET_SECONDS",
    "REGISTRY_THROTTLED_BACKOFF_SECONDS",
    "dynamodb",
    "dynamodb_retrying",
    "management_api",
    "reset_clients",
    "secretsmanager",
    "sqs",
    "ssm",
]

# The pool size of the handler's clients (the backend SDK's push uses the same number of
# threads and pooled connections for its own clients).
PUSH_CONCURRENCY = 32

# Short socket timeouts everywhere, so an unreachable service ends in a clean rejection
# inside the function's timeout.
CONNECT_TIMEOUT_SECONDS = contract.REGISTRY_CONNECT_TIMEOUT_SECONDS
READ_TIMEOUT_SECONDS = contract.REGISTRY_READ_TIMEOUT_SECONDS

# DynamoDB: one attempt per botocore call; ws_bridge.connections_table retries itself. Not
# botocore's retries, because their backoff differs between versions: botocore 1.34.x (what
# the Lambda python3.12 runtime ships) sleeps rand * 2**n s whatever the error, up to 1 s and
# then 2 s; newer ones sleep 25 ms and 50 ms for DynamoDB (1 s and 2 s when throttled) and
# honour an x-amz-retry-after hint for up to 5 s more. Neither knows how much time the
# invocation has left. The registry's loop (connections_table._call):
#   * at most REGISTRY_ATTEMPTS attempts, retrying transient errors only;
#   * before attempt n + 1, a full-jitter sleep of at most REGISTRY_BACKOFF_SECONDS[n - 1]
#     (REGISTRY_THROTTLED_BACKOFF_SECONDS[n - 1] after a throttling error);
#   * no attempt that could not end before the caller's deadline, counting the sleep and
#     REGISTRY_ATTEMPT_SECONDS, the connect + read timeouts of one attempt.
# REGISTRY_BUDGET_SECONDS is then the worst case of one registry call (e.g. the PutItem of
# $connect): every attempt runs into both socket timeouts after the longest sleeps,
# 3 x 2 s + 0.25 + 0.5 s = 6.75 s. The connection handler reserves it on $connect after the
# backend call, and its timeout must exceed BACKEND_TIMEOUT_SECONDS + this budget rounded up
# to whole seconds (Terraform's local.dynamodb_budget_seconds, 7 s; 20 s by default).
REGISTRY_ATTEMPTS = contract.REGISTRY_ATTEMPTS
REGISTRY_BACKOFF_SECONDS = contract.REGISTRY_BACKOFF_SECONDS
REGISTRY_THROTTLED_BACKOFF_SECONDS = contract.REGISTRY_THROTTLED_BACKOFF_SECONDS
REGISTRY_ATTEMPT_SECONDS = float(CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
REGISTRY_BUDGET_SECONDS = REGISTRY_ATTEMPTS * REGISTRY_ATTEMPT_SECONDS + sum(
    map(max, REGISTRY_BACKOFF_SECONDS, REGISTRY_THROTTLED_BACKOFF_SECONDS)
)

DYNAMODB_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    max_pool_connections=PUSH_CONCURRENCY,
)

# Secrets Manager and SSM (keys, read once and cached): botocore's bounded retries, 3
# attempts in all ("total_max_attempts" counts the first one). Their worst case depends on
# the botocore version (see above): 3 x 2 s of socket timeouts plus backoffs of up to 3 s
# with botocore 1.34.x; none of it is inside the registry's budget.
BOTO_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    max_pool_connections=PUSH_CONCURRENCY,
)

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
    return boto3.client("dynamodb", config=DYNAMODB_CONFIG)


@functools.cache
def dynamodb_retrying() -> DynamoDBClient:
    """DynamoDB with botocore's bounded retries (BOTO_CONFIG): for the fan-out worker, the
    gauge and the cleanup of subscriptions, whose calls have no deadline of API Gateway's."""
    return boto3.client("dynamodb", config=BOTO_CONFIG)


@functools.cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=BOTO_CONFIG)


@functools.cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=BOTO_CONFIG)


@functools.cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=BOTO_CONFIG)


@functools.cache
def management_api(
    endpoint_url: str, pool_size: int | None = None
) -> ApiGatewayManagementApiClient:
    """The ``@connections`` client for one API stage.

    ``endpoint_url`` is the stage's base URL, ``https://{api-id}.execute-api.{region}.
    amazonaws.com/{stage}``, without ``/@connections`` (boto3 adds it to each call).
    ``pool_size``: connections kept open, for callers that post in parallel (the fan-out
    worker); None keeps botocore's default.
    """
    config = MANAGEMENT_API_CONFIG
    if pool_size is not None:
        config = config.merge(Config(max_pool_connections=pool_size))
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=config)


def reset_clients() -> None:
    """Forget every cached client (tests start a fresh moto backend per test)."""
    for factory in (dynamodb, dynamodb_retrying, sqs, secretsmanager, ssm, management_api):
        factory.cache_clear()
