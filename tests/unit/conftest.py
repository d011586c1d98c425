"""Fixtures for the ws_bridge unit tests: fake AWS credentials, moto, a connections table,
a real HTTP server standing in for the backend/JWKS, and loaders for the two entry modules
(which read their settings from the environment when imported, as at a Lambda cold start)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType

import boto3
import pytest
from bridge_fakes import REGION, SECRET, FakeServer, create_table
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, settings
from moto import mock_aws

from ws_bridge import aws, backend_client, logs

# Hypothesis: one setting for the number of generated cases per property, FUZZ_EXAMPLES:
# modest by default (`make test`), more in `make fuzz` (sized to stay well inside the 300 s
# per-test timeout on 2 cores). Derandomized, without an example database: every run, in CI
# or on a laptop, generates the same cases, so a failure repeats and a pass means the same.
DEFAULT_FUZZ_EXAMPLES = 60


def fuzz_examples(env: Mapping[str, str] = os.environ) -> int:
    raw = env.get("FUZZ_EXAMPLES", "").strip()
    if not raw:
        return DEFAULT_FUZZ_EXAMPLES
    try:
        value = int(raw)
    except ValueError:
        raise pytest.UsageError(f"FUZZ_EXAMPLES must be a whole number, got {raw!r}") from None
    if value < 1:
        raise pytest.UsageError(f"FUZZ_EXAMPLES must be at least 1, got {value}")
    return value


settings.register_profile(
    "ws_bridge",
    max_examples=fuzz_examples(),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ws_bridge")

CONTRACT_VARIABLES = (
    "JWT_ALGORITHMS",
    "JWT_SECRET_ARN",
    "JWT_SECRET_PARAMETER",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "JWT_USER_CLAIM",
    "JWT_SESSION_CLAIM",
    "ALLOWED_SOURCE_CIDRS",
    "LOG_LEVEL",
    "CONNECTIONS_TABLE",
    "BACKEND_URL",
    "BACKEND_VALIDATE_PATH",
    "BACKEND_MESSAGE_PATH",
    "BACKEND_DISCONNECT_PATH",
    "BACKEND_TIMEOUT_SECONDS",
    "BACKEND_FAIL_OPEN",
    "DISCONNECT_TIMEOUT_SECONDS",
    "CONNECTION_TTL_SECONDS",  # no longer read: records always live 2 hours
    "BACKEND_SIGNING_SECRET_ARN",
    "BACKEND_SIGNING_KEY_REFRESH_SECONDS",
    "TOKEN_EXPIRY_ENFORCED",
    "METRICS_NAMESPACE",
    "METRICS_SERVICE",
    "JWT_SECRET_JSON_KEY",
)


def _forget_clients() -> None:
    aws.reset_clients()
    if backend_client.pool.cache_info().currsize:
        backend_client.pool().clear()
    backend_client.pool.cache_clear()
    backend_client.signing_key.cache_clear()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region; no real endpoint, profile or contract variable leaks in."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    _forget_clients()
    yield
    _forget_clients()


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(moto: None) -> str:
    return create_table()


@pytest.fixture
def secret_arn(moto: None) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name="ws-bridge/jwt", SecretString=SECRET)["ARN"]


@pytest.fixture
def secret_parameter(moto: None) -> str:
    client = boto3.client("ssm", region_name=REGION)
    client.put_parameter(Name="/ws-bridge/jwt", Value=SECRET, Type="SecureString")
    return "/ws-bridge/jwt"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


type Loader = Callable[..., ModuleType]


def _loader(monkeypatch: pytest.MonkeyPatch, module: str) -> Iterator[Loader]:
    def load(**env: str) -> ModuleType:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop(module, None)
        return importlib.import_module(module)

    yield load
    sys.modules.pop(module, None)


@pytest.fixture
def load_authorizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    """Import ``ws_bridge.authorizer`` afresh with the given environment (a cold start)."""
    yield from _loader(monkeypatch, "ws_bridge.authorizer")


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    """Import ``ws_bridge.handler`` afresh with the given environment (a cold start)."""
    yield from _loader(monkeypatch, "ws_bridge.handler")


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything the package logged to stdout since the last call."""
    logs.configure(logging.INFO)
    return lambda: capsys.readouterr().out
