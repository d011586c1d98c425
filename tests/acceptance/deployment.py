"""A deployed acceptance run as the suite sees it: where clients connect, how to mint their
tokens, clients of the account (as the operator, and as the backend's role), the backend
under test, and `teardown()`: stop what runs beside it, destroy, list what is left.

`deploy()` brings a run up on its target: locally it starts the emulator first, and after
apply the reference backend and the local gateway; on a real account only Terraform runs.
Every step it took is undone by `teardown()`, whatever failed in between.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from backend_seam import BackendSide
from harness import AcceptanceError, Run, Target
from leftovers import leftovers

from wslocal.devtoken import mint_token
from wslocal.stack import REPO_ROOT, ManagedProcess, distinct_free_ports

__all__ = ["Deployment", "deploy"]

START_SECONDS = 60.0
STOP_SECONDS = 10.0
_DOMAIN_WS = re.compile(r"domain_ws=(\S+)")


@dataclass
class Deployment:
    target: Target
    run: Run
    outputs: dict[str, Any] = field(default_factory=dict)
    ws_url: str = ""
    domain_ws_url: str | None = None
    callback_url: str = ""
    backend: BackendSide | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    applied: bool = False
    torn_down: list[str] | None = None
    restart_backend: Callable[[], None] | None = None

    # -- clients ---------------------------------------------------------------------------

    def client(self, service: str, **credentials: str) -> Any:
        """A boto3 client of the target as the operator (or with `credentials`)."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.target.region,
            endpoint_url=self.run.env.get("AWS_ENDPOINT_URL"),
            aws_access_key_id=credentials.get("key", self.run.env.get("AWS_ACCESS_KEY_ID")),
            aws_secret_access_key=credentials.get(
                "secret", self.run.env.get("AWS_SECRET_ACCESS_KEY")
            ),
            aws_session_token=credentials.get("token", self.run.env.get("AWS_SESSION_TOKEN")),
        )

    def as_backend(self, service: str, endpoint_url: str | None = None) -> Any:
        """A client with temporary credentials of the backend's role (backend_policy_json)."""
        issued = self.client("sts").assume_role(
            RoleArn=self.outputs["backend_role_arn"], RoleSessionName="acceptance-backend"
        )["Credentials"]
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.target.region,
            endpoint_url=endpoint_url or self.run.env.get("AWS_ENDPOINT_URL"),
            aws_access_key_id=issued["AccessKeyId"],
            aws_secret_access_key=issued["SecretAccessKey"],
            aws_session_token=issued["SessionToken"],
        )

    def jwt_key(self, stage: str = "AWSCURRENT") -> str:
        answer = self.client("secretsmanager").get_secret_value(
            SecretId=self.outputs["jwt_secret_arn"], VersionStage=stage
        )
        return str(answer["SecretString"])

    def token(self, key: str | None = None, **options: Any) -> str:
        session, user = next(iter(self.backend.sessions.items())) if self.backend else ("", "")
        options.setdefault("sub", user)
        options.setdefault("session_id", session)
        return mint_token(key or self.jwt_key(), **options)

    def denials(self) -> list[str]:
        """What the local emulator refused (its log's IAM lines); on AWS, CloudTrail has them."""
        log = self.run.workdir / "emulator.log"
        if self.target.real or not log.exists():
            return []
        lines = log.read_text(errors="replace").splitlines()
        return [line for line in lines if "wslocal.emulator" in line and " for " in line]

    # -- teardown --------------------------------------------------------------------------

    def stop_processes(self) -> None:
        while self.processes:
            self.processes.pop().stop(STOP_SECONDS)

    def teardown(self) -> list[str]:
        """Stop the services, destroy, list what is left (the emulator is stopped after)."""
        if self.torn_down is not None:
            return self.torn_down
        emulator = [] if self.target.real else self.processes[:1]  # it serves the destroy
        for process in reversed(self.processes[len(emulator) :]):
            process.stop(STOP_SECONDS)
        self.processes = emulator
        try:
            if self.applied or not self.run.state_is_empty():
                self.run.destroy()
            key = self.outputs.get("kms_key_arn")
            self.torn_down = leftovers(self.client, self.run.name, key)
        finally:
            self.stop_processes()
        return self.torn_down


def _local_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_VAR_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "lambda"), str(REPO_ROOT / "local")]),
        PYTHONUNBUFFERED="1",
        WEBSOCKETS_MAX_LINE_LENGTH=str(10 * 1024),
    )
    return env


def _start(deployment: Deployment, name: str, argv: list[str], port: int) -> ManagedProcess:
    process = ManagedProcess(name, argv, deployment.run.env, deployment.run.workdir / f"{name}.log")
    deployment.processes.append(process)
    process.wait_ready(port, START_SECONDS)
    return process


def _local_services(deployment: Deployment, ports: dict[str, int]) -> None:
    """The reference backend and the local gateway, with the applied outputs."""
    out, python = deployment.outputs, sys.executable
    stage = out["stage_name"]
    backend = [
        python, "-m", "wslocal.reference_backend", "--port", str(ports["backend"]),
        "--table", out["table_name"],
        "--callback-url", f"http://127.0.0.1:{ports['connections']}/{stage}",
        "--jwt-secret-arn", out["jwt_secret_arn"],
        "--signing-secret-arn", out["backend_signing_secret_arn"],
        "--role-arn", out["backend_role_arn"],
    ]  # fmt: skip
    for session in deployment.target.sessions:
        backend += ["--session", session]
    _start(deployment, "backend", backend, ports["backend"])

    def restart_backend() -> None:
        running = next(p for p in deployment.processes if p.name == "backend")
        deployment.processes.remove(running)
        running.stop(STOP_SECONDS)
        _start(deployment, "backend", backend, ports["backend"])

    deployment.restart_backend = restart_backend
    gateway = [
        python, "-m", "wslocal.gateway", "--api-id", out["api_id"], "--stage", stage,
        "--ws-port", str(ports["gateway"]), "--http-port", str(ports["connections"]),
        "--package-dir", str(REPO_ROOT / "packages"),
    ]  # fmt: skip
    domain = (out.get("custom_domain") or {}).get("domain_name")
    if domain:
        gateway += ["--domain-name", domain]
    process = _start(deployment, "gateway", gateway, ports["gateway"])
    deployment.ws_url = f"ws://127.0.0.1:{ports['gateway']}/{stage}"
    deployment.callback_url = f"http://127.0.0.1:{ports['connections']}/{stage}"
    found = _DOMAIN_WS.search(process.log_path.read_text(errors="replace"))
    deployment.domain_ws_url = found.group(1) if found else None


def deploy(target: Target, workdir: Path, on_start: Callable[[Deployment], None]) -> Deployment:
    """Bring a run up on `target`; `on_start` gets the Deployment before anything is
    started, so that its teardown can undo whatever this gets through."""
    name = Run.new_name()
    if target.real:
        deployment = Deployment(target, Run(name, workdir, dict(os.environ)))
        on_start(deployment)
        variables = real_variables(target, name)
    else:
        ports = dict(
            zip(
                ("emulator", "gateway", "backend", "connections"),
                distinct_free_ports(4),
                strict=True,
            )
        )
        deployment = Deployment(
            target, Run(name, workdir, _local_env(f"http://127.0.0.1:{ports['emulator']}"))
        )
        on_start(deployment)
        argv = [sys.executable, "-m", "wslocal.emulator", "--port", str(ports["emulator"])]
        _start(deployment, "emulator", argv, ports["emulator"])
        variables = {
            "name": name,
            "backend_url": f"http://127.0.0.1:{ports['backend']}",
            "create_account_cloudwatch_role": True,
            "custom_domain": {"domain_name": f"ws.{name}.example", "zone_name": f"{name}.example"},
            "create_hosted_zone": True,
        }
    deployment.run.init()
    deployment.applied = True  # a failed apply may still have created resources
    deployment.outputs = deployment.run.apply(variables)
    if target.real:
        deployment.ws_url = str(deployment.outputs["websocket_url"])
        deployment.callback_url = str(deployment.outputs["callback_url"])
        assert target.backend_url is not None
        sessions = dict(s.split(":", 1) for s in target.sessions)
        deployment.backend = BackendSide(target.backend_url, sessions, reports_signatures=False)
    else:
        _local_services(deployment, ports)
        sessions = dict(s.split(":", 1) for s in target.sessions)
        deployment.backend = BackendSide(
            f"http://127.0.0.1:{ports['backend']}", sessions, True, deployment.restart_backend
        )
    return deployment


def real_variables(target: Target, name: str) -> dict[str, Any]:
    """The example's variables for a real account, from ACCEPTANCE_* (docs/acceptance.md)."""
    env = os.environ
    variables: dict[str, Any] = {
        "name": name,
        "region": target.region,
        "backend_url": target.backend_url,
        "session_store_enabled": env.get("ACCEPTANCE_SESSION_STORE", "1") == "1",
    }
    for variable, setting in (
        ("account_cloudwatch_role_arn", "ACCEPTANCE_CLOUDWATCH_ROLE_ARN"),
        ("jwt_secret_arn", "ACCEPTANCE_JWT_SECRET_ARN"),
        ("signing_secret_arn", "ACCEPTANCE_SIGNING_SECRET_ARN"),
        ("secrets_kms_key_arn", "ACCEPTANCE_SECRETS_KMS_KEY_ARN"),
    ):
        if env.get(setting):
            variables[variable] = env[setting]
    if env.get("ACCEPTANCE_DOMAIN_NAME") and env.get("ACCEPTANCE_ZONE_ID"):
        variables["custom_domain"] = {
            "domain_name": env["ACCEPTANCE_DOMAIN_NAME"],
            "route53_zone_id": env["ACCEPTANCE_ZONE_ID"],
        }
    if not (env.get("ACCEPTANCE_JWT_SECRET_ARN") and env.get("ACCEPTANCE_SIGNING_SECRET_ARN")):
        raise AcceptanceError(
            "a real run's backend verifies tokens and signatures with secrets it already "
            "knows: set ACCEPTANCE_JWT_SECRET_ARN and ACCEPTANCE_SIGNING_SECRET_ARN "
            "(docs/acceptance.md)"
        )
    return variables
