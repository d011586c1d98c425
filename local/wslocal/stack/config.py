"""What the local stack is told (``StackConfig``, ``Service``) and what it learns once
Terraform has applied (``StackOutputs``, ``StackInfo``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PROVIDER_MIRRORS",
    "EXAMPLE",
    "FAKE_CREDENTIALS",
    "MAX_HTTP_LINE_BYTES",
    "REPO_ROOT",
    "SCRUBBED_ENVIRONMENT",
    "Service",
    "StackConfig",
    "StackError",
    "StackInfo",
    "StackOutputs",
    "provider_mirror",
    "scrubbed_environment",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
# The configuration the stack applies, in place: its `source = "../../"` is the root module.
EXAMPLE = Path("examples") / "local"
# The longest request line or header line the gateway reads (API Gateway's ~10 KB).
MAX_HTTP_LINE_BYTES = 10 * 1024
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Variables that would take boto3 or Terraform somewhere other than the emulator (and every
# AWS_ENDPOINT_URL_<SERVICE>, which wins over AWS_ENDPOINT_URL), or set Terraform variables
# behind the stack's back (TF_VAR_*: the stack's flags and StackConfig.variables say it all).
SCRUBBED_ENVIRONMENT = (
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
SCRUBBED_PREFIXES = ("AWS_ENDPOINT_URL", "TF_VAR_")
# Where machines without registry access keep the hashicorp/aws provider (the Makefile's list).
DEFAULT_PROVIDER_MIRRORS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins")


class StackError(RuntimeError):
    """A step of the stack failed; the message says which and where its log is."""


def provider_mirror() -> str | None:
    """`TF_PROVIDER_MIRROR` when set (empty: none, use the registry), else the first known
    mirror directory that exists on this machine."""
    if "TF_PROVIDER_MIRROR" in os.environ:
        return os.environ["TF_PROVIDER_MIRROR"] or None
    return next((str(p) for p in DEFAULT_PROVIDER_MIRRORS if p.is_dir()), None)


def scrubbed_environment() -> dict[str, str]:
    """This process's environment without what would point a child elsewhere."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in SCRUBBED_ENVIRONMENT and not name.startswith(SCRUBBED_PREFIXES)
    }


@dataclass(frozen=True)
class StackOutputs:
    """The Terraform outputs of examples/local."""

    api_id: str
    api_execution_arn: str
    stage_name: str
    table_name: str
    authorizer_function_name: str
    connection_handler_function_name: str
    local_websocket_url: str
    local_callback_url: str
    raw: Mapping[str, Any]

    @classmethod
    def from_terraform(cls, raw: Mapping[str, Any]) -> StackOutputs:
        values = {name: output["value"] for name, output in raw.items()}
        try:
            return cls(
                api_id=values["api_id"],
                api_execution_arn=values["api_execution_arn"],
                stage_name=values["stage_name"],
                table_name=values["table_name"],
                authorizer_function_name=values["authorizer_function_name"],
                connection_handler_function_name=values["connection_handler_function_name"],
                local_websocket_url=values["local_websocket_url"],
                local_callback_url=values["local_callback_url"],
                raw=values,
            )
        except KeyError as missing:
            raise StackError(f"terraform output lacks {missing}") from None

    @property
    def backend_signing_secret_arn(self) -> str | None:
        """The secret the handler signs backend requests with, when examples/local has one."""
        value = self.raw.get("backend_signing_secret_arn")
        return str(value) if value else None


@dataclass(frozen=True)
class StackInfo:
    """What a service's command line is built from, once Terraform has applied."""

    config: StackConfig
    endpoint_url: str
    jwt_secret: str
    jwt_secret_arn: str
    outputs: StackOutputs
    workdir: Path


@dataclass(frozen=True)
class Service:
    """A process started after apply (the backend, the gateway).

    ``argv`` builds the command line from the stack; ``port`` is the TCP port it serves
    (0 when the service picks one and prints it). The service is ready when it prints a line
    like ``... ready http://127.0.0.1:8081`` or when ``port`` accepts connections.
    """

    name: str
    argv: Callable[[StackInfo], Sequence[str]]
    port: Callable[[StackConfig], int]
    ready_timeout_seconds: float = 30.0


@dataclass(frozen=True)
class StackConfig:
    """How to run the stack. Ports default to the documented ones (gateway WebSocket 8080,
    backend 8081, gateway @connections 8082); tests pass free ports.

    ``endpoint_url``: an emulator that already runs (no emulator is started). ``variables``:
    extra Terraform variables of examples/local (they win over the ones set here).
    ``package_path``: the zip both functions run (None: the module's packages/ws_bridge.zip).
    ``logs_dir``: where the logs are copied when the stack closes (None: they go with the
    working directory).
    """

    repo_root: Path = REPO_ROOT
    endpoint_url: str | None = None
    emulator_port: int = 4566
    gateway_port: int = 8080
    backend_port: int = 8081
    connections_port: int = 8082
    region: str = "us-east-1"
    name: str = "ws-local"
    stage_name: str = "local"
    package_path: Path | None = None
    jwt_secret: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    services: Sequence[Service] = ()
    destroy_on_exit: bool = True
    keep_workdir: bool = False
    logs_dir: Path | None = None
    terraform: str = "terraform"
    plugin_dir: str | None = field(default_factory=lambda: provider_mirror())
    init_timeout_seconds: float = 180.0
    apply_timeout_seconds: float = 300.0
    destroy_timeout_seconds: float = 180.0
    start_timeout_seconds: float = 30.0
    stop_timeout_seconds: float = 10.0
    progress: Callable[[str], None] | None = None
