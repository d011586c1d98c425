"""The README's usage snippet, as a user would paste it, plans, applies and destroys.

The snippet creates the JWT secret (and the backend's role) in the same configuration as the
module call, so their ARNs are unknown at plan time: exactly what broke the module once. The
test copies the README's first HCL block into a fresh directory, points its git `source` at
this checkout, adds a provider block for the local emulator, and runs `terraform init`,
`plan`, `apply` and `destroy` against `python -m wslocal.emulator` on a free port.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
MIRRORS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins")
PROVIDER = f"""
provider "aws" {{
  region                  = "{REGION}"
  access_key              = "test"
  secret_key              = "test"
  skip_metadata_api_check = true
}}
"""


def readme_snippet() -> str:
    """The first ```hcl block under "Use it from another repository"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from another repository", 1)[1]
    match = re.search(r"```hcl\n(.*?)```", section, flags=re.DOTALL)
    assert match, "the README's usage section has no ```hcl block"
    return match.group(1)


def local_source(snippet: str) -> str:
    """The snippet with its git sources (the module, and sub-modules by `//<path>`) replaced
    by this checkout."""
    pattern = r'source\s*=\s*"git::[^"]*apigw-websocket-bridge\.git(?://([^"?]+))?(?:\?[^"]*)?"'

    def local(match: re.Match[str]) -> str:
        path = ROOT / match.group(1) if match.group(1) else ROOT
        return f'source = "{path.as_posix()}"'

    replaced, count = re.subn(pattern, local, snippet)
    assert count >= 1, "the snippet must call the module from its git source"
    assert "git::" not in replaced, "every git source must have been replaced"
    return replaced


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the emulator did not listen on {port} within {timeout:.0f} s")


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that could reach a real account."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "TF_VAR_", "TF_CLI_ARGS"))
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
    )
    return env


@pytest.fixture
def emulator() -> Iterator[str]:
    port = free_port()
    env = clean_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lambda"), str(ROOT / "local")])
    process = subprocess.Popen(
        [sys.executable, "-m", "wslocal.emulator", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_readme_snippet_plans_applies_and_destroys(emulator: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(PROVIDER + local_source(readme_snippet()), encoding="utf-8")
    env = clean_environment()
    env["AWS_ENDPOINT_URL"] = emulator

    def terraform(*args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"terraform {args[0]}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    mirror = os.environ.get("TF_PROVIDER_MIRROR")
    if mirror is None:
        mirror = next((str(path) for path in MIRRORS if path.is_dir()), "")
    init = ["init", "-backend=false", "-input=false"]
    terraform(*init, *([f"-plugin-dir={mirror}"] if mirror else []))

    plan = terraform("plan", "-input=false", "-out=tfplan")
    assert "module.websocket.module.functions.aws_lambda_function.this" in plan
    try:
        terraform("apply", "-input=false", "tfplan", timeout=600)
        url = terraform("output", "-raw", "websocket_url").strip()
        assert url.startswith("wss://") or url.startswith("ws://"), url
        # The module created the request-signing key: a random value in Secrets Manager,
        # written through a write-only argument, so neither the state nor the plan holds it.
        secret_arn = terraform("output", "-raw", "backend_signing_secret_arn").strip()
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=emulator,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        key = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
        assert re.fullmatch(r"[0-9a-f]{64}", key), "the signing key must be 64 hex characters"
        state = terraform("show", "-json")
        assert key not in state, "the signing key must not be in the state"
        assert key not in plan
    finally:
        terraform("destroy", "-auto-approve", "-input=false", timeout=600)
