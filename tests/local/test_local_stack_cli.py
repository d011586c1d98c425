"""`python -m wslocal.stack`: its flags and config file become the stack's settings, and its
printout names what a user needs next."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from wslocal.stack import Stack, StackConfig, StackOutputs
from wslocal.stack.cli import EXIT_USAGE, UsageError, build_config, main, parse_args, summary
from wslocal.stack.terraform import declared_variables

PORTS = {"emulator": 14566, "gateway": 18080, "backend": 18081, "connections": 18082}
REPO_ROOT = Path(__file__).resolve().parents[2]


def config_of(argv: list[str]) -> tuple[StackConfig, tuple[str, ...]]:
    return build_config(parse_args(argv), PORTS)


def test_the_module_settings_that_matter_locally_become_terraform_variables() -> None:
    config, sessions = config_of(
        [
            "--jwt-issuer", "https://id.test/",
            "--jwt-audience", "labs",
            "--no-identity-sources",
            "--route-key", "ping", "--route-key", "command",
            "--session", "lab-9:zoe", "--session", "lab-9:yan",
            "--var", 'allowed_source_cidrs=["127.0.0.2/32"]',
            "--name", "ws-try", "--stage-name", "dev",
        ]
    )  # fmt: skip
    assert config.variables == {
        "jwt_issuer": "https://id.test/",
        "jwt_audience": "labs",
        "identity_sources": [],
        "route_keys": ["ping", "command"],
        "allowed_source_cidrs": ["127.0.0.2/32"],
    }
    assert (config.name, config.stage_name) == ("ws-try", "dev")
    assert sessions == ("lab-9:zoe", "lab-9:yan")
    assert [s.name for s in config.services] == ["backend", "gateway"]
    assert (config.emulator_port, config.gateway_port) == (14566, 18080)
    # Every variable the flags set is one examples/local declares.
    declared = declared_variables(REPO_ROOT / "examples" / "local")
    assert set(config.variables) <= declared


def test_identity_sources_are_repeatable_and_default_to_the_module_default() -> None:
    config, _ = config_of(["--identity-source", "route.request.header.Authorization"])
    assert config.variables["identity_sources"] == ["route.request.header.Authorization"]
    config, sessions = config_of([])
    assert "identity_sources" not in config.variables
    assert sessions == ("lab-1:alice", "lab-1:bob")


def test_a_config_file_is_read_and_flags_win_over_it(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text(
        json.dumps(
            {
                "jwt_issuer": "https://file.test/",
                "route_keys": ["resize"],
                "sessions": ["s-1:ann"],
                "variables": {"log_retention_days": 3},
                "no_services": True,
            }
        )
    )
    config, sessions = config_of(["--config", str(path), "--jwt-issuer", "https://flag.test/"])
    assert config.variables == {
        "jwt_issuer": "https://flag.test/",
        "route_keys": ["resize"],
        "log_retention_days": 3,
    }
    assert sessions == ("s-1:ann",)
    assert config.services == ()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"jwt_issure": "x"}', "unknown setting jwt_issure"),
        ('{"route_keys": "ping"}', "route_keys must be a list of strings"),
        ("[1]", "expected a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_a_wrong_config_file_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "stack.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        parse_args(["--config", str(path)])


def test_wrong_flags_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="NAME=JSON"):
        parse_args(["--var", "novalue"])
    with pytest.raises(UsageError, match="not JSON"):
        parse_args(["--var", "route_keys=ping"])
    with pytest.raises(UsageError, match="ID:USER"):
        config_of(["--session", "lab-1"])
    assert main(["--session", "nouser"]) == EXIT_USAGE
    assert "error: --session takes ID:USER" in capsys.readouterr().err


def test_a_variable_examples_local_does_not_declare_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    config, _ = config_of(["--var", "jwt_issure=1", "--endpoint-url", "http://127.0.0.1:9"])
    stack = Stack(config)
    with pytest.raises(Exception, match="examples/local has no variable jwt_issure"):
        stack.start()
    stack.close()


def test_terraform_does_not_see_tf_var_from_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TF_VAR_jwt_issuer", "https://accident.test/")
    stack = Stack(StackConfig())
    stack.endpoint_url = "http://127.0.0.1:9"
    assert not [name for name in stack.environment() if name.startswith("TF_VAR_")]


def _applied_stack(tmp_path: Path, config: StackConfig) -> Stack:
    stack = Stack(config)
    stack.endpoint_url = "http://127.0.0.1:14566"
    stack.jwt_secret_arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:ws-local/jwt"
    stack.workdir = tmp_path
    outputs: dict[str, Any] = {
        "api_id": "abc123",
        "api_execution_arn": "arn:aws:execute-api:us-east-1:000000000000:abc123",
        "stage_name": "local",
        "table_name": "ws-local-connections",
        "authorizer_function_name": "ws-local-authorizer",
        "connection_handler_function_name": "ws-local-handler",
        "local_websocket_url": "ws://127.0.0.1:18080/local",
        "local_callback_url": "http://127.0.0.1:18082/local",
    }
    stack._outputs = StackOutputs.from_terraform({k: {"value": v} for k, v in outputs.items()})
    return stack


def test_the_printout_names_urls_secret_token_command_sessions_and_logs(tmp_path: Path) -> None:
    config, _ = config_of(["--jwt-issuer", "https://id.test/", "--jwt-audience", "labs"])
    stack = _applied_stack(tmp_path, config)
    stack.services["backend"] = object()  # type: ignore[assignment]
    logs = tmp_path / "kept"
    text = summary(stack, {"lab-9": ["zoe", "yan"]}, logs)
    assert "ws://127.0.0.1:18080/local" in text
    assert "http://127.0.0.1:18082/local" in text
    assert "http://127.0.0.1:18081" in text
    assert stack.jwt_secret_arn is not None
    assert f"JWT secret ARN    {stack.jwt_secret_arn}" in text
    assert "lab-9: zoe, yan" in text
    assert f"logs              {tmp_path}" in text
    assert f"logs after stop   {logs}" in text
    assert "backend signing   off" in text
    mint = next(line for line in text.splitlines() if "wslocal.client mint" in line)
    argv = shlex.split(mint)
    assert argv[:4] == [sys.executable, "-m", "wslocal.client", "mint"]
    assert argv[4:] == [
        "--secret-arn", stack.jwt_secret_arn, "--sub", "zoe", "--session", "lab-9",
        "--iss", "https://id.test/", "--aud", "labs",
    ]  # fmt: skip
    export = next(line for line in text.splitlines() if line.strip().startswith("export "))
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:14566" in export
    assert 'api_id = "abc123"' in text


def test_the_printout_says_when_signing_is_on(tmp_path: Path) -> None:
    config, _ = config_of([])
    stack = _applied_stack(tmp_path, config)
    raw = dict(stack.outputs.raw, backend_signing_secret_arn="arn:aws:secretsmanager:x:sign")
    stack._outputs = StackOutputs.from_terraform({k: {"value": v} for k, v in raw.items()})
    assert "backend signing   on, secret arn:aws:secretsmanager:x:sign" in summary(
        stack, None, None
    )


def test_the_backend_is_started_with_the_signing_secret_and_the_handler_s_refresh(
    tmp_path: Path,
) -> None:
    config, _ = config_of(["--jwt-issuer", "https://id.test/", "--session", "s:u"])
    variables = {**config.variables, "signing_key_refresh_seconds": 7}
    config = dataclasses.replace(config, variables=variables)
    stack = _applied_stack(tmp_path, config)
    backend = next(s for s in config.services if s.name == "backend")
    argv = list(backend.argv(stack.info))
    assert argv[argv.index("--session") + 1] == "s:u"
    # The handler's signed validate call carries the identity: no token settings.
    assert not [flag for flag in argv if flag.startswith("--jwt")]
    assert "--signing-secret-arn" not in argv
    raw = dict(stack.outputs.raw, backend_signing_secret_arn="arn:aws:secretsmanager:x:sign")
    stack._outputs = StackOutputs.from_terraform({k: {"value": v} for k, v in raw.items()})
    argv = list(backend.argv(stack.info))
    assert argv[argv.index("--signing-secret-arn") + 1] == "arn:aws:secretsmanager:x:sign"
    assert argv[argv.index("--key-ttl-seconds") + 1] == "7"


# -- the backend: the reference test double, the example app, or yours ------------------------


def test_backend_url_points_the_module_at_your_backend_and_starts_none() -> None:
    config, _ = config_of(["--backend-url", "http://127.0.0.1:9999/"])
    assert config.variables["backend_url"] == "http://127.0.0.1:9999"
    assert [s.name for s in config.services] == ["gateway"]
    with pytest.raises(UsageError, match="http:// or https://"):
        config_of(["--backend-url", "127.0.0.1:9999"])
    assert main(["--backend-url", "ftp://x"]) == EXIT_USAGE


def test_backend_url_and_backend_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--backend", "example", "--backend-url", "http://127.0.0.1:9"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_example_backend_runs_on_a_redis_of_its_own(tmp_path: Path) -> None:
    config, _ = config_of(["--backend", "example", "--session", "s:u"])
    assert [s.name for s in config.services] == ["redis", "backend", "gateway"]
    stack = _applied_stack(tmp_path, config)
    raw = dict(stack.outputs.raw, backend_signing_secret_arn="arn:aws:secretsmanager:x:sign")
    stack._outputs = StackOutputs.from_terraform({k: {"value": v} for k, v in raw.items()})
    argv = list(config.services[1].argv(stack.info))
    assert argv[argv.index("-m") + 1] == "wslocal.example_backend"
    redis_port = config.services[0].port(config)
    assert argv[argv.index("--redis-url") + 1] == f"redis://127.0.0.1:{redis_port}/0"
    assert argv[argv.index("--signing-secret-arn") + 1] == "arn:aws:secretsmanager:x:sign"
    assert argv[argv.index("--session") + 1] == "s:u"


def test_the_printout_for_your_backend_names_only_what_applies(tmp_path: Path) -> None:
    config, _ = config_of(["--backend-url", "https://backend.example.test"])
    stack = _applied_stack(tmp_path, config)
    stack.services["gateway"] = object()  # type: ignore[assignment]
    text = summary(stack, None, None, "url")
    assert "https://backend.example.test (yours: the stack started none)" in text
    assert "backend sessions" not in text
    assert "/api/push/session" not in text
    assert "backend.log" not in text
    assert "127.0.0.1:18081" not in text
