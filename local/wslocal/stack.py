"""The local stack: emulator, JWT secret, Terraform, backend and gateway, started and stopped
as one.

``Stack`` is a context manager used by ``make demo`` and the integration tests::

    with Stack(StackConfig(services=(backend_service(), gateway_service()))) as stack:
        stack.outputs.api_id, stack.outputs.local_websocket_url, stack.jwt_secret ...

On entry it

1. starts the emulator (``python -m wslocal.emulator``) unless ``endpoint_url`` names one that
   already runs (a LocalStack, for example);
2. creates the HS256 signing secret in Secrets Manager;
3. copies ``examples/local`` into a temporary directory (the repository stays clean: state,
   ``.terraform`` and the lock file live there) and runs ``terraform init`` (with
   ``-plugin-dir=$TF_PROVIDER_MIRROR`` when that directory exists) and ``terraform apply``;
4. reads the outputs and starts the services (the backend, the gateway) with them.

On exit, even after an error or KeyboardInterrupt, it stops the services, runs ``terraform
destroy``, stops the emulator and removes the directory. Every child runs in its own process
group, which is terminated and then killed after a bounded wait; children also receive SIGTERM
if this process dies first. Every wait is bounded.

Children get ``AWS_ENDPOINT_URL``, a region and fake credentials in their environment, and
``PYTHONPATH`` with ``lambda/`` and ``local/``: AWS endpoints always come from
``AWS_ENDPOINT_URL``. ``WEBSOCKETS_MAX_LINE_LENGTH`` lets the gateway read request lines and
headers up to API Gateway's ~10 KB (websockets' own limit is 8 KB).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3

__all__ = [
    "REPO_ROOT",
    "ManagedProcess",
    "Service",
    "Stack",
    "StackConfig",
    "StackError",
    "StackInfo",
    "StackOutputs",
    "backend_service",
    "free_port",
    "gateway_service",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path("examples") / "local"
# What the example's `source = "../../"` needs next to the copy (the root module).
ROOT_MODULE_ENTRIES = (
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "versions.tf",
    "modules",
    "packages",
)
READY_LINE = re.compile(r"\bready\b.*?\b(?:https?|wss?)://(?P<host>[\w.-]+):(?P<port>\d+)")
# The longest request line or header line the gateway reads (API Gateway's ~10 KB).
MAX_HTTP_LINE_BYTES = 10 * 1024
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Variables that would take boto3 or Terraform somewhere other than the emulator (and every
# AWS_ENDPOINT_URL_<SERVICE>, which wins over AWS_ENDPOINT_URL).
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


class StackError(RuntimeError):
    """A step of the stack failed; the message says which and where its log is."""


# ---------------------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------------------


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


def backend_service(sessions: Sequence[str] = ("lab-1:alice", "lab-1:bob")) -> Service:
    """The reference backend (`python -m wslocal.reference_backend`), with `sessions` as
    ``ID:USER``."""

    def argv(info: StackInfo) -> list[str]:
        config = info.config
        command = [
            sys.executable,
            "-m",
            "wslocal.reference_backend",
            "--port",
            str(config.backend_port),
            "--table",
            info.outputs.table_name,
            "--callback-url",
            info.outputs.local_callback_url,
            "--jwt-secret-arn",
            info.jwt_secret_arn,
        ]
        for name, flag in (("jwt_issuer", "--jwt-issuer"), ("jwt_audience", "--jwt-audience")):
            value = config.variables.get(name)
            if value:
                command += [flag, str(value)]
        for session in sessions:
            command += ["--session", session]
        return command

    return Service("backend", argv, lambda config: config.backend_port)


def gateway_service(extra_args: Sequence[str] = ()) -> Service:
    """The local WebSocket gateway (`python -m wslocal.gateway`) for the deployed API: clients
    on `gateway_port`, `@connections` on `connections_port`, the zips found in the directory of
    `package_path` (or the module's packages/)."""

    def argv(info: StackInfo) -> list[str]:
        config = info.config
        if config.package_path is not None:
            package_dir = Path(config.package_path).resolve().parent
        else:
            package_dir = config.repo_root / "packages"
        return [
            sys.executable,
            "-m",
            "wslocal.gateway",
            "--api-id",
            info.outputs.api_id,
            "--stage",
            info.outputs.stage_name,
            "--ws-port",
            str(config.gateway_port),
            "--http-port",
            str(config.connections_port),
            "--package-dir",
            str(package_dir),
            *extra_args,
        ]

    return Service("gateway", argv, lambda config: config.gateway_port)


@dataclass(frozen=True)
class StackConfig:
    """How to run the stack. Ports default to the documented ones (gateway WebSocket 8080,
    backend 8081, gateway @connections 8082); tests pass free ports.

    ``endpoint_url``: an emulator that already runs (no emulator is started). ``variables``:
    extra Terraform variables of examples/local (they win over the ones set here).
    ``package_path``: the zip both functions run (None: the module's packages/ws_bridge.zip).
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
    terraform: str = "terraform"
    plugin_dir: str | None = field(default_factory=lambda: provider_mirror())
    init_timeout_seconds: float = 180.0
    apply_timeout_seconds: float = 300.0
    destroy_timeout_seconds: float = 180.0
    start_timeout_seconds: float = 30.0
    stop_timeout_seconds: float = 10.0
    progress: Callable[[str], None] | None = None


# ---------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------


# Where machines without registry access keep the hashicorp/aws provider (the Makefile's list).
DEFAULT_PROVIDER_MIRRORS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins")


def provider_mirror() -> str | None:
    """`TF_PROVIDER_MIRROR` when set (empty: none, use the registry), else the first known
    mirror directory that exists on this machine."""
    if "TF_PROVIDER_MIRROR" in os.environ:
        return os.environ["TF_PROVIDER_MIRROR"] or None
    return next((str(p) for p in DEFAULT_PROVIDER_MIRRORS if p.is_dir()), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded here, not in the child: between fork and exec the child only calls prctl.
_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the parent dies (Linux)."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _preexec() -> Callable[[], None] | None:
    return _die_with_parent if _LIBC is not None else None


def kill_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM the process group of `process`, wait up to `timeout`, then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # The leader may be gone while children of its group remain.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


class ManagedProcess:
    """A long-running child in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(  # noqa: S603 - our argv
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
                preexec_fn=_preexec(),
            )
        except BaseException:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, port: int, timeout: float) -> int:
        """Wait for a ready line (whose port is returned) or for `port` to accept."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                match = READY_LINE.search(self.log_path.read_text(errors="replace"))
                if match:
                    return int(match.group("port"))
            if port and port_accepts(port):
                return port
            if not self.running():
                raise StackError(
                    f"{self.name} exited with status {self.process.returncode} before it was "
                    f"ready; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise StackError(
            f"{self.name} was not ready after {timeout:.0f} s; log {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float) -> None:
        try:
            kill_group(self.process, timeout)
        finally:
            self._log.close()


# ---------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------


class Stack:
    """Emulator + secret + Terraform apply + services; see the module docstring."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.workdir: Path | None = None
        self.endpoint_url: str | None = None
        self.jwt_secret = self.config.jwt_secret or secrets.token_urlsafe(32)
        self.jwt_secret_arn: str | None = None
        self._outputs: StackOutputs | None = None
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
        self._prepare_workdir(self.workdir)
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
        env = _scrubbed_environment()
        env.update(FAKE_CREDENTIALS)
        root = self.config.repo_root
        python_path = [str(root / "lambda"), str(root / "local")]
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

    def terraform(
        self, *args: str, timeout: float, check: bool = True, ok_codes: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>` in the working copy; its output goes to terraform.log too."""
        if self.workdir is None:
            raise StackError("the stack has no working directory")
        argv = [self.config.terraform, *args]
        with subprocess.Popen(  # noqa: S603 - terraform with our arguments, no shell
            argv,
            cwd=self.workdir / EXAMPLE,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_preexec(),
        ) as process:
            try:
                output, errors = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(process, self.config.stop_timeout_seconds)
                raise StackError(
                    f"`terraform {args[0]}` did not finish in {timeout:.0f} s"
                ) from None
            except BaseException:
                kill_group(process, self.config.stop_timeout_seconds)
                raise
        with (self.workdir / "terraform.log").open("a") as log:
            log.write(f"$ {' '.join(argv)}\n{output}{errors}\n")
        result = subprocess.CompletedProcess(argv, process.returncode, output, errors)
        if check and result.returncode not in ok_codes:
            raise StackError(
                f"`terraform {' '.join(args)}` exited with {result.returncode}:\n"
                f"{_tail(errors or output, 60)}"
            )
        return result

    def terraform_init(self) -> None:
        args = ["init", "-backend=false", "-input=false", "-no-color"]
        plugin_dir = self.config.plugin_dir
        if plugin_dir and Path(plugin_dir).is_dir():
            args.append(f"-plugin-dir={plugin_dir}")
        self._progress("terraform init")
        self.terraform(*args, timeout=self.config.init_timeout_seconds)

    def terraform_apply(self) -> float:
        """Apply examples/local; returns the seconds it took."""
        self._progress("terraform apply")
        started = time.monotonic()
        self._applied = True  # a failed apply may still have created resources
        self.terraform(
            "apply", "-auto-approve", "-input=false", "-no-color",
            timeout=self.config.apply_timeout_seconds,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        self._progress(f"terraform apply done in {elapsed:.1f} s")
        return elapsed

    def plan_changes(self) -> tuple[bool, str]:
        """`terraform plan -detailed-exitcode`: (whether it plans changes, its output)."""
        result = self.terraform(
            "plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false",
            timeout=self.config.apply_timeout_seconds, ok_codes=(0, 2),
        )  # fmt: skip
        return result.returncode == 2, result.stdout

    def terraform_destroy(self) -> None:
        self._progress("terraform destroy")
        self.terraform(
            "destroy", "-auto-approve", "-input=false", "-no-color",
            timeout=self.config.destroy_timeout_seconds,
        )  # fmt: skip
        self._applied = False

    def read_outputs(self) -> StackOutputs:
        result = self.terraform("output", "-json", "-no-color", timeout=60)
        return StackOutputs.from_terraform(json.loads(result.stdout))

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
        """Stop services, destroy, stop the emulator, remove the directory. Idempotent;
        every step runs even when an earlier one fails; the first failure is raised last."""
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
        if self.workdir is not None and not self.config.keep_workdir:
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

    def _prepare_workdir(self, workdir: Path) -> None:
        """examples/local copied, the root module linked beside it, tfvars written."""
        root = self.config.repo_root
        for entry in ROOT_MODULE_ENTRIES:
            if (root / entry).exists():
                (workdir / entry).symlink_to(root / entry)
        example = workdir / EXAMPLE
        shutil.copytree(
            root / EXAMPLE,
            example,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
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
        path = self.workdir / EXAMPLE / "terraform.tfvars.json"
        path.write_text(json.dumps(variables, indent=2) + "\n")

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
        env = _scrubbed_environment()
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


def _scrubbed_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in SCRUBBED_ENVIRONMENT and not name.startswith("AWS_ENDPOINT_URL")
    }


def _collect(
    errors: list[BaseException], step: Callable[..., object], *args: Any, **kwargs: Any
) -> None:
    try:
        step(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001 - cleanup goes on; raised by close()
        errors.append(error)


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------------------
# `python -m wslocal.stack`: hold the stack until Ctrl-C
# ---------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m wslocal.stack",
        description="Apply examples/local to the emulator, run the backend and the gateway, "
        "and keep them up until Ctrl-C (then tear everything down).",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL") or None,
        help="an emulator that already runs, e.g. a LocalStack (default: $AWS_ENDPOINT_URL; "
        "unset: start moto's server with this project's extension)",
    )
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--backend-port", type=int, default=8081)
    parser.add_argument("--connections-port", type=int, default=8082)
    parser.add_argument("--package", type=Path, help="zip for both functions")
    parser.add_argument("--no-services", action="store_true", help="apply only")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(f"[stack] {message}", file=sys.stderr, flush=True)

    services = () if args.no_services else (backend_service(), gateway_service())
    config = StackConfig(
        endpoint_url=args.endpoint_url,
        emulator_port=args.emulator_port,
        gateway_port=args.gateway_port,
        backend_port=args.backend_port,
        connections_port=args.connections_port,
        package_path=args.package,
        services=services,
        progress=progress,
    )
    # SIGTERM unwinds like Ctrl-C, so that the stack is torn down either way; SIGINT too
    # when it was inherited as ignored (a background job).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with Stack(config) as stack:
            for name, value in sorted(stack.outputs.raw.items()):
                print(f"{name} = {json.dumps(value)}")
            print(f"export AWS_ENDPOINT_URL={stack.endpoint_url}", flush=True)
            progress("up; Ctrl-C tears it down")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        progress("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
