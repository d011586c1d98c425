"""``Stack``: the emulator, the JWT secret, ``terraform apply`` and the services, started in
that order and undone in reverse, even after an error or KeyboardInterrupt."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3

from wslocal.stack.config import (
    EXAMPLE,
    FAKE_CREDENTIALS,
    MAX_HTTP_LINE_BYTES,
    Service,
    StackConfig,
    StackError,
    StackInfo,
    StackOutputs,
    scrubbed_environment,
)
from wslocal.stack.ports import port_accepts
from wslocal.stack.processes import ManagedProcess
from wslocal.stack.terraform import (
    Terraform,
    declared_variables,
    write_tfvars,
)

__all__ = ["Stack", "save_logs"]


def save_logs(workdir: Path | None, target: Path | None = None) -> Path | None:
    """Copy the `*.log` files of `workdir` to `target` (a new temporary directory when None);
    returns where they are, None when there were none."""
    if workdir is None or not workdir.is_dir():
        return None
    logs = sorted(workdir.glob("*.log"))
    if not logs:
        return None
    if target is None:
        target = Path(tempfile.mkdtemp(prefix="wslocal-logs-"))
    target.mkdir(parents=True, exist_ok=True)
    for log in logs:
        shutil.copy2(log, target / log.name)
    return target


class Stack:
    """Emulator + secret + Terraform apply + services; see the package docstring."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.workdir: Path | None = None
        self.endpoint_url: str | None = None
        self.jwt_secret = self.config.jwt_secret or secrets.token_urlsafe(32)
        self.jwt_secret_arn: str | None = None
        self.saved_logs: Path | None = None
        self._outputs: StackOutputs | None = None
        self._terraform: Terraform | None = None
        self.emulator: ManagedProcess | None = None
        self.services: dict[str, ManagedProcess] = {}
        self.service_ports: dict[str, int] = {}
        self._applied = False
        self._closed = False
        self._lock = threading.Lock()

    # -- context manager ---------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------

    @property
    def outputs(self) -> StackOutputs:
        if self._outputs is None:
            raise StackError("the stack has not been applied")
        return self._outputs

    @property
    def info(self) -> StackInfo:
        if self.endpoint_url is None or self.jwt_secret_arn is None or self.workdir is None:
            raise StackError("the stack has not been started")
        return StackInfo(
            config=self.config,
            endpoint_url=self.endpoint_url,
            jwt_secret=self.jwt_secret,
            jwt_secret_arn=self.jwt_secret_arn,
            outputs=self.outputs,
            workdir=self.workdir,
        )

    def start(self) -> None:
        """Everything up to running services; `close()` undoes whatever was done."""
        self.workdir = Path(tempfile.mkdtemp(prefix="wslocal-stack-"))
        example = self.config.repo_root / EXAMPLE
        self._terraform = Terraform(
            self.config.terraform,
            example,
            self.workdir,
            self.environment,
            self.workdir / "terraform.log",
            self.config.stop_timeout_seconds,
        )
        self._check_variables(example)
        self._start_emulator()
        self._create_secret()
        self.terraform_init()
        self.terraform_apply()
        self._outputs = self.read_outputs()
        for service in self.config.services:
            self.start_service(service)

    def environment(self) -> dict[str, str]:
        """The environment every child gets (also what a caller's own clients should use)."""
        if self.endpoint_url is None:
            raise StackError("the emulator has not been started")
        env = scrubbed_environment()
        env.update(FAKE_CREDENTIALS)
        root = self.config.repo_root
        python_path = [str(root / "lambda"), str(root / "local"), str(root / "sdk/python/src")]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_REGION": self.config.region,
                "AWS_DEFAULT_REGION": self.config.region,
                "PYTHONPATH": os.pathsep.join(python_path),
                "PYTHONUNBUFFERED": "1",
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
                # API Gateway takes a request line or header of about 10 KB; websockets stops
                # at 8 KB unless told otherwise (read when it is imported), which would refuse
                # a token before the authorizer could.
                "WEBSOCKETS_MAX_LINE_LENGTH": str(MAX_HTTP_LINE_BYTES),
            }
        )
        return env

    def client(self, service: str) -> Any:
        """A boto3 client of the emulator (for checks and tests)."""
        if self.endpoint_url is None:
            raise StackError("the emulator has not been started")
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.config.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    @property
    def terraform_runner(self) -> Terraform:
        if self._terraform is None:
            raise StackError("the stack has no working directory")
        return self._terraform

    def terraform(
        self, *args: str, timeout: float, check: bool = True, ok_codes: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>` in the working copy (output in terraform.log too)."""
        return self.terraform_runner.run(*args, timeout=timeout, check=check, ok_codes=ok_codes)

    def terraform_init(self) -> None:
        self._progress("terraform init")
        self.terraform_runner.init(self.config.plugin_dir, self.config.init_timeout_seconds)

    def terraform_apply(self) -> float:
        """Apply examples/local; returns the seconds it took."""
        self._progress("terraform apply")
        self._applied = True  # a failed apply may still have created resources
        elapsed = self.terraform_runner.apply(self.config.apply_timeout_seconds)
        self._progress(f"terraform apply done in {elapsed:.1f} s")
        return elapsed

    def plan_changes(self) -> tuple[bool, str]:
        """`terraform plan -detailed-exitcode`: (whether it plans changes, its output)."""
        return self.terraform_runner.plan_changes(self.config.apply_timeout_seconds)

    def terraform_destroy(self) -> None:
        self._progress("terraform destroy")
        self.terraform_runner.destroy(self.config.destroy_timeout_seconds)
        self._applied = False

    def read_outputs(self) -> StackOutputs:
        return StackOutputs.from_terraform(self.terraform_runner.outputs())

    def start_service(self, service: Service) -> ManagedProcess:
        """Start `service` with the applied outputs and wait until it is ready."""
        if self.workdir is None:
            raise StackError("the stack has not been started")
        if service.name in self.services:
            raise StackError(f"{service.name} is already running")
        port = service.port(self.config)
        if port and port_accepts(port):
            raise StackError(f"{service.name}: port {port} on 127.0.0.1 is already in use")
        self._progress(f"starting {service.name}")
        process = ManagedProcess(
            service.name,
            service.argv(self.info),
            self.environment(),
            self.workdir / f"{service.name}.log",
        )
        self.services[service.name] = process
        self.service_ports[service.name] = process.wait_ready(port, service.ready_timeout_seconds)
        return process

    def stop_service(self, name: str) -> None:
        process = self.services.pop(name, None)
        self.service_ports.pop(name, None)
        if process is not None:
            process.stop(self.config.stop_timeout_seconds)

    def close(self) -> None:
        """Stop services, destroy, stop the emulator, keep the logs when asked, remove the
        directory (kept when a step failed). Idempotent; every step runs even when an earlier
        one fails; the first failure is raised last."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        errors: list[BaseException] = []
        for name in reversed(list(self.services)):
            _collect(errors, self.stop_service, name)
        if self._applied and self.config.destroy_on_exit and self.emulator_alive():
            _collect(errors, self.terraform_destroy)
        if self.emulator is not None:
            _collect(errors, self.emulator.stop, self.config.stop_timeout_seconds)
        if self.config.logs_dir is not None:
            try:
                self.saved_logs = save_logs(self.workdir, self.config.logs_dir)
            except OSError as error:
                errors.append(error)
        if errors and self.workdir is not None and not self.config.keep_workdir:
            # What went wrong is in the logs: they stay, and the error says where.
            errors[0].add_note(f"the stack's logs and state are kept in {self.workdir}")
        elif self.workdir is not None and not self.config.keep_workdir:
            _collect(errors, shutil.rmtree, self.workdir, ignore_errors=True)
        if errors:
            raise errors[0]

    def emulator_alive(self) -> bool:
        if self.emulator is not None:
            return self.emulator.running()
        return self.endpoint_url is not None

    # -- steps -------------------------------------------------------------------------

    def _progress(self, message: str) -> None:
        if self.config.progress is not None:
            self.config.progress(message)

    def _check_variables(self, example: Path) -> None:
        unknown = sorted(set(self.config.variables) - declared_variables(example))
        if unknown:
            raise StackError(
                f"examples/local has no variable {', '.join(unknown)} "
                f"(it declares {', '.join(sorted(declared_variables(example)))})"
            )

    def _write_tfvars(self) -> None:
        assert self.workdir is not None
        config = self.config
        variables: dict[str, Any] = {
            "region": config.region,
            "name": config.name,
            "stage_name": config.stage_name,
            "backend_url": f"http://127.0.0.1:{config.backend_port}",
            "gateway_port": config.gateway_port,
            "connections_port": config.connections_port,
            "jwt_secret_arn": self.jwt_secret_arn,
        }
        if config.package_path is not None:
            variables["package_path"] = str(Path(config.package_path).resolve())
        variables.update(config.variables)
        write_tfvars(self.terraform_runner.var_file, variables)

    def _start_emulator(self) -> None:
        if self.config.endpoint_url:
            self.endpoint_url = self.config.endpoint_url.rstrip("/")
            return
        assert self.workdir is not None
        port = self.config.emulator_port
        if port and port_accepts(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is in use: stop what listens there, or set "
                "StackConfig.endpoint_url to use it as the emulator"
            )
        self._progress("starting the emulator")
        env = scrubbed_environment()
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.config.repo_root / "local"), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        self.emulator = ManagedProcess(
            "emulator",
            [sys.executable, "-m", "wslocal.emulator", "--port", str(port), "--log-requests"],
            env,
            self.workdir / "emulator.log",
        )
        bound = self.emulator.wait_ready(port, self.config.start_timeout_seconds)
        self.endpoint_url = f"http://127.0.0.1:{bound}"

    def _create_secret(self) -> None:
        secrets_manager = self.client("secretsmanager")
        name = f"{self.config.name}/jwt-hs256-{secrets.token_hex(4)}"
        answer = secrets_manager.create_secret(
            Name=name,
            Description="HS256 key of the local stack's development tokens",
            SecretString=self.jwt_secret,
        )
        self.jwt_secret_arn = str(answer["ARN"])
        self._write_tfvars()


def _collect(
    errors: list[BaseException], step: Callable[..., object], *args: Any, **kwargs: Any
) -> None:
    try:
        step(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001 - cleanup goes on; raised by close()
        errors.append(error)
