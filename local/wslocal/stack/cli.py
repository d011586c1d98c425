"""`python -m wslocal.stack` (`make stack`): apply examples/local to the emulator, start a
backend and the gateway, print what a user needs next, and hold it all up until Ctrl-C; then
tear it down and keep the logs in a directory it names.

The backend: ``--backend reference`` (the default: the test double, with admin routes and
fault injection), ``--backend example`` (the App Runner example's app, with a Redis of its
own as the session store), or ``--backend-url URL``: your own backend, already running; the
stack then starts none and points the deployed module at it.

Settings come from flags or from ``--config FILE``, a JSON object with the same names
(``{"jwt_issuer": "...", "route_keys": ["ping"], "sessions": ["lab-1:alice"], ...}``); a
flag wins over the file. ``TF_VAR_*`` variables are not passed to Terraform: what the stack
deploys is what its flags say.

Exit status: 0 stopped by Ctrl-C or SIGTERM after a clean teardown; 1 the stack failed to
start or to stop (the message says which step, and where its log is); 64 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from wslocal.stack.config import FAKE_CREDENTIALS, Service, StackConfig, StackError
from wslocal.stack.interrupts import patient_signals, unwind_on_signals
from wslocal.stack.lifecycle import Stack
from wslocal.stack.ports import PortTaken, choose_ports, free_port
from wslocal.stack.services import (
    DEFAULT_SESSIONS,
    backend_service,
    example_backend_service,
    gateway_service,
)

__all__ = ["DEFAULT_PORTS", "build_config", "main", "parse_args", "summary"]

DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "emulator": 4566,
    "gateway": 8080,
    "backend": 8081,
    "connections": 8082,
}
# The algorithms examples/local deploys when it has no `jwt_algorithms` variable.
FIXED_ALGORITHMS: Final = ("HS256",)
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 64
# Settings a --config file may hold: flag name (underscores) -> whether it is a list.
CONFIG_KEYS: Final[Mapping[str, bool]] = {
    "endpoint_url": False,
    "emulator_port": False,
    "gateway_port": False,
    "backend_port": False,
    "connections_port": False,
    "package": False,
    "name": False,
    "stage_name": False,
    "jwt_algorithms": True,
    "jwt_issuer": False,
    "jwt_audience": False,
    "identity_sources": True,
    "route_keys": True,
    "sessions": True,
    "variables": False,
    "logs_dir": False,
    "no_services": False,
    "backend": False,
    "backend_url": False,
}
BACKENDS: Final = ("reference", "example")


class UsageError(Exception):
    """A flag or the config file is wrong."""


# Long: one add_argument per flag, in the order `--help` lists them; splitting it would only
# scatter the flags a user reads as one list.
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.stack",
        description="Apply examples/local to a local emulator, run the reference backend and "
        "the gateway, print the URLs and a token command, and keep it all up until Ctrl-C "
        "(then tear it down, keeping the logs).",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="JSON file of settings")
    parser.add_argument(
        "--endpoint-url",
        help="an emulator that already runs, e.g. a LocalStack (default: $AWS_ENDPOINT_URL; "
        "unset: start moto's server with this project's extension)",
    )
    for name, default in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{name}-port",
            type=int,
            metavar="PORT",
            help=f"default {default} (a free one when taken); 0: any free port",
        )
    parser.add_argument("--package", type=Path, metavar="ZIP", help="zip for both functions")
    parser.add_argument("--name", help="the module's name (default ws-local)")
    parser.add_argument("--stage-name", help="the stage (default local)")
    parser.add_argument(
        "--jwt-algorithm",
        dest="jwt_algorithms",
        action="append",
        metavar="ALG",
        help="allowed JWT algorithm (repeatable; examples/local deploys HS256)",
    )
    parser.add_argument("--jwt-issuer", metavar="ISS", help="required iss claim")
    parser.add_argument("--jwt-audience", metavar="AUD", help="required aud claim")
    sources = parser.add_mutually_exclusive_group()
    sources.add_argument(
        "--identity-source",
        dest="identity_sources",
        action="append",
        metavar="EXPR",
        help="identity source of the authorizer, e.g. route.request.querystring.token (repeatable)",
    )
    sources.add_argument(
        "--no-identity-sources",
        dest="identity_sources",
        action="store_const",
        const=[],
        help="call the authorizer on every connect (the browser setup)",
    )
    parser.add_argument(
        "--route-key",
        dest="route_keys",
        action="append",
        metavar="KEY",
        help="custom route besides $connect/$disconnect/$default (repeatable; default ping)",
    )
    parser.add_argument(
        "--session",
        dest="sessions",
        action="append",
        metavar="ID:USER",
        help=f"a session the backend knows (repeatable; default {' '.join(DEFAULT_SESSIONS)})",
    )
    parser.add_argument(
        "--var",
        dest="var",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any other variable of examples/local, its value as JSON (repeatable)",
    )
    parser.add_argument(
        "--logs-dir",
        type=Path,
        metavar="DIR",
        help="where the logs are kept after the stack stops (default: a new temporary "
        "directory, printed)",
    )
    parser.add_argument(
        "--no-services", action="store_true", default=None, help="apply only: no backend, gateway"
    )
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the backend the stack runs: reference (default: the test double, with admin and "
        "fault routes) or example (the App Runner example's app, on a Redis of its own)",
    )
    backend.add_argument(
        "--backend-url",
        metavar="URL",
        help="your own backend, already running (http://127.0.0.1:PORT or https://...): the "
        "module calls it and the stack starts no backend; verify with the printed signing secret",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings: the config file's, overridden by the flags given. ``UsageError`` when a
    value is wrong; argparse exits 2 on an unknown flag."""
    args = _parser().parse_args(argv)
    settings: dict[str, Any] = {}
    if args.config is not None:
        settings.update(_read_config(args.config))
    for key in CONFIG_KEYS:
        if key == "variables":
            continue
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    variables = dict(settings.get("variables") or {})
    for item in args.var:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var takes NAME=JSON, got {item!r}")
        try:
            variables[name] = json.loads(raw)
        except ValueError:
            raise UsageError(f"--var {name}: the value is not JSON: {raw!r}") from None
    settings["variables"] = variables
    return settings


def _read_config(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except OSError as err:
        raise UsageError(f"--config {path}: {err.strerror}") from None
    except ValueError as err:
        raise UsageError(f"--config {path}: not JSON ({err})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--config {path}: expected a JSON object")
    unknown = sorted(set(value) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(
            f"--config {path}: unknown setting {', '.join(unknown)} "
            f"(known: {', '.join(CONFIG_KEYS)})"
        )
    for key, is_list in CONFIG_KEYS.items():
        if (
            key in value
            and is_list
            and not (isinstance(value[key], list) and all(isinstance(v, str) for v in value[key]))
        ):
            raise UsageError(f"--config {path}: {key} must be a list of strings")
    if "variables" in value and not isinstance(value["variables"], dict):
        raise UsageError(f"--config {path}: variables must be an object")
    for key in ("package", "logs_dir"):
        if key in value:
            value[key] = Path(value[key])
    return value


def build_config(
    settings: Mapping[str, Any], ports: Mapping[str, int], **extra: Any
) -> tuple[StackConfig, tuple[str, ...]]:
    """The ``StackConfig`` for `settings` and the backend's sessions."""
    variables = dict(settings.get("variables") or {})
    algorithms = settings.get("jwt_algorithms")
    # examples/local fixes HS256 unless it declares the variable (checked at start).
    if algorithms and tuple(algorithms) != FIXED_ALGORITHMS:
        variables["jwt_algorithms"] = list(algorithms)
    for key in ("jwt_issuer", "jwt_audience", "identity_sources", "route_keys"):
        if settings.get(key) is not None:
            variables[key] = settings[key]
    sessions = tuple(settings.get("sessions") or DEFAULT_SESSIONS)
    for session in sessions:
        session_id, sep, user = session.partition(":")
        if not sep or not session_id or not user:
            raise UsageError(f"--session takes ID:USER, got {session!r}")
    services = (
        ()
        if settings.get("no_services")
        else (*backend_services(settings, variables, sessions), gateway_service())
    )
    named: dict[str, Any] = {
        key: settings[key] for key in ("name", "stage_name") if settings.get(key) is not None
    }
    config = StackConfig(
        endpoint_url=settings.get("endpoint_url") or None,
        emulator_port=ports["emulator"],
        gateway_port=ports["gateway"],
        backend_port=ports["backend"],
        connections_port=ports["connections"],
        package_path=settings.get("package"),
        variables=variables,
        services=services,
        logs_dir=settings.get("logs_dir"),
        **named,
        **extra,
    )
    return config, sessions


def backend_services(
    settings: Mapping[str, Any], variables: dict[str, Any], sessions: Sequence[str]
) -> tuple[Service, ...]:
    """The backend's services for the settings (``variables`` gets ``backend_url`` for
    ``--backend-url``): none, the reference backend, or Redis and the example app."""
    url = settings.get("backend_url")
    kind = settings.get("backend") or "reference"
    if url:
        if settings.get("backend"):
            raise UsageError("--backend and --backend-url exclude each other")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--backend-url takes an http:// or https:// URL, got {url!r}")
        variables["backend_url"] = url.rstrip("/")
        return ()
    if kind not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {kind!r}")
    if kind == "example":
        from wslocal.redis_service import redis_service, redis_url

        port = free_port()
        return (redis_service(port), example_backend_service(redis_url(port), sessions))
    return (backend_service(sessions),)


def _backend_line(stack: Stack, backend: str) -> str:
    url = (
        stack.config.variables.get("backend_url") or f"http://127.0.0.1:{stack.config.backend_port}"
    )
    if backend == "url":
        return f"{url} (yours: the stack started none)"
    if "backend" not in stack.services:
        return "(not started)"
    if backend == "example":
        return f"{url} (the App Runner example's app; members and nonces in Redis)"
    return f"{url} (the reference test double)"


def _backend_sessions(port: int) -> dict[str, list[str]]:
    """The sessions the running backend knows, as it reports them."""
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/admin/sessions", timeout=5
    ) as response:
        sessions: dict[str, list[str]] = json.loads(response.read())["sessions"]
    return sessions


def summary(
    stack: Stack,
    sessions: Mapping[str, Sequence[str]] | None,
    logs_dir: Path | None,
    backend: str = "reference",
) -> str:
    """What a user needs next: URLs, the secret, a token command, sessions, logs. ``backend``:
    ``reference``, ``example`` or ``url`` (the user's own: only what applies to it)."""
    lines = ["", "The local stack is up.", ""]
    lines += _facts(stack, sessions, backend)
    logs = ", ".join(f"{name}.log" for name in ("emulator", "terraform", *stack.services))
    lines += [
        f"  logs              {stack.info.workdir} ({logs})",
        f"  logs after stop   {logs_dir}" if logs_dir else "  logs after stop   removed",
        "",
        "In another shell:",
        "",
    ]
    lines += _commands(stack, sessions, backend)
    lines += ["", "Terraform outputs:"]
    raw = stack.outputs.raw
    lines += [f"  {name} = {json.dumps(value)}" for name, value in sorted(raw.items())]
    lines += ["", "Ctrl-C tears it all down."]
    return "\n".join(lines)


def _facts(stack: Stack, sessions: Mapping[str, Sequence[str]] | None, backend: str) -> list[str]:
    """The summary's table: where each part listens and how the module was configured."""
    info, outputs, variables = stack.info, stack.outputs, stack.config.variables
    algorithms = ", ".join(variables.get("jwt_algorithms") or FIXED_ALGORITHMS)
    identity = variables.get("identity_sources")
    signing = outputs.backend_signing_secret_arn
    lines = [
        f"  WebSocket URL     {outputs.local_websocket_url}",
        f"  @connections      {outputs.local_callback_url}",
        "  backend           " + _backend_line(stack, backend),
        f"  emulator          {info.endpoint_url}",
        f"  JWT secret ARN    {info.jwt_secret_arn}",
        f"  JWT               {algorithms}"
        + (f", iss={variables['jwt_issuer']}" if variables.get("jwt_issuer") else "")
        + (f", aud={variables['jwt_audience']}" if variables.get("jwt_audience") else ""),
        "  identity sources  "
        + (
            "(module default: route.request.querystring.token)"
            if identity is None
            else ", ".join(identity) or "none: the authorizer runs on every connect"
        ),
        "  route keys        "
        + (", ".join(variables.get("route_keys") or []) or "(examples/local default: ping)"),
        "  backend signing   " + (f"on, secret {signing}" if signing else "off"),
    ]
    if backend != "url":
        lines.append(
            "  backend sessions  "
            + (
                "; ".join(f"{sid}: {', '.join(users)}" for sid, users in sessions.items())
                if sessions
                else "(none)"
            )
        )
    else:
        lines.append(
            "  your backend      verifies the handler's signature with that secret (AWSCURRENT "
            "and AWSPREVIOUS): sdk/python or sdk/node"
        )
    return lines


def _commands(
    stack: Stack, sessions: Mapping[str, Sequence[str]] | None, backend: str
) -> list[str]:
    """Shell lines that work as printed: the environment, a token, a client, a push."""
    config, info = stack.config, stack.info
    python = shlex.quote(sys.executable)
    env = {
        "AWS_ENDPOINT_URL": info.endpoint_url,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        **FAKE_CREDENTIALS,
    }
    first_session, first_user = "", ""
    if sessions:
        first_session = next(iter(sessions))
        first_user = next(iter(sessions[first_session]), "")
    token_flags = [
        "--secret-arn",
        info.jwt_secret_arn,
        "--sub",
        first_user or "alice",
        "--session",
        first_session or "lab-1",
    ]
    for name, flag in (("jwt_issuer", "--iss"), ("jwt_audience", "--aud")):
        if config.variables.get(name):
            token_flags += [flag, str(config.variables[name])]
    flags = " ".join(shlex.quote(f) for f in token_flags)
    url = stack.outputs.local_websocket_url
    lines = [
        "  export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        f"  {python} -m wslocal.client mint {flags}",
        f"  {python} -m wslocal.client connect {shlex.quote(url)} {flags} "
        + shlex.quote('--send={"type":"ping"}'),
    ]
    if sessions and backend == "reference" and "backend" in stack.services:
        push = shlex.quote('{"type":"notice","text":"hi"}')
        lines.append(
            f"  curl -s -X POST http://127.0.0.1:{config.backend_port}/api/push/session/"
            f"{first_session} -H 'Content-Type: application/json' -d {push}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    def progress(message: str) -> None:
        print(f"[stack] {message}", file=sys.stderr, flush=True)

    try:
        settings = parse_args(argv)
        if not settings.get("endpoint_url") and os.environ.get("AWS_ENDPOINT_URL"):
            settings["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
        requested = {name: settings.get(f"{name}_port") for name in DEFAULT_PORTS}
        if any(p is not None and not 0 <= p <= 65535 for p in requested.values()):
            raise UsageError("ports range from 0 to 65535")
        ports, notes = choose_ports(requested, DEFAULT_PORTS)
        if settings.get("logs_dir") is None:
            settings["logs_dir"] = Path(tempfile.mkdtemp(prefix="wslocal-stack-logs-"))
        config, _sessions = build_config(settings, ports, progress=progress)
    except (UsageError, PortTaken) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    for note in notes:
        progress(f"note: {note}")
    unwind_on_signals()
    stack = Stack(config)
    status = EXIT_OK
    try:
        stack.start()
        backend = "url" if settings.get("backend_url") else settings.get("backend") or "reference"
        known: dict[str, list[str]] | None = None
        if "backend" in stack.services and backend == "reference":
            known = _backend_sessions(config.backend_port)  # what its admin route reports
        elif "backend" in stack.services:
            known = {}
            for session in _sessions:
                session_id, _, user = session.partition(":")
                known.setdefault(session_id, []).append(user)
        print(summary(stack, known, config.logs_dir, backend), flush=True)
        progress("up; Ctrl-C tears it down")
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        progress("stopping")
    except (StackError, OSError) as err:
        progress(f"failed: {err}")
        status = EXIT_FAILED
    finally:
        with patient_signals(lambda: progress("tearing down, please wait")):
            try:
                stack.close()
            except Exception as err:  # noqa: BLE001 - reported, exit status 1
                progress(f"teardown failed: {err}")
                status = EXIT_FAILED
    if stack.saved_logs is not None:
        progress(f"logs kept in {stack.saved_logs}")
    progress("stopped")
    return status
