"""`python -m wslocal.stack` (what `make stack` runs) as a user runs it: its flags reach
Terraform and the backend, its printout's commands work as printed (no PYTHONPATH needed),
and Ctrl-C tears it down and keeps the logs where it said."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import boto3
import pytest

from wslocal.client import WsClient
from wslocal.stack import FAKE_CREDENTIALS, distinct_free_ports, port_accepts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LAST_LINE = "Ctrl-C tears it all down."


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str | None], marker: str, timeout: float = 240) -> str:
    seen: list[str] = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("ended before " + marker + ":\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return "".join(seen)


def _field(printout: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}\s+(\S+)", printout, re.MULTILINE)
    assert match is not None, printout
    return match[1]


def test_flags_printout_and_logs_kept_after_ctrl_c(tmp_path: Path) -> None:
    emulator, gateway, backend, connections = distinct_free_ports()
    logs = tmp_path / "logs"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.pop("AWS_ENDPOINT_URL", None)
    env["TF_VAR_route_keys"] = '["accident"]'  # ignored: only the flags count
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wslocal.stack",
            "--emulator-port",
            str(emulator),
            "--gateway-port",
            str(gateway),
            "--backend-port",
            str(backend),
            "--connections-port",
            str(connections),
            "--session",
            "lab-7:zoe",
            "--session",
            "lab-7:yan",
            "--route-key",
            "ping",
            "--route-key",
            "command",
            "--name",
            "ws-cli",
            "--logs-dir",
            str(logs),
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = _lines(process.stdout)
        printout = _until(lines, LAST_LINE)
        url = _field(printout, "WebSocket URL")
        assert url == f"ws://127.0.0.1:{gateway}/local"
        assert _field(printout, "backend") == f"http://127.0.0.1:{backend}"
        assert _field(printout, "emulator") == f"http://127.0.0.1:{emulator}"
        assert "backend sessions  lab-7: yan, zoe" in printout
        assert "route keys        ping, command" in printout
        assert f"logs after stop   {logs}" in printout
        secret_arn = _field(printout, "JWT secret ARN")
        assert secret_arn.startswith("arn:aws:secretsmanager:")

        # The route keys reached Terraform (and TF_VAR_* did not).
        endpoint = f"http://127.0.0.1:{emulator}"
        api_id = re.search(r'^  api_id = "(\w+)"', printout, re.MULTILINE)
        assert api_id is not None, printout
        apis = boto3.client(
            "apigatewayv2",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        routes = {r["RouteKey"] for r in apis.get_routes(ApiId=api_id[1])["Items"]}
        assert {"ping", "command"} <= routes
        assert "accident" not in routes

        # The printed commands work as printed, from another directory, without PYTHONPATH.
        export = next(line for line in printout.splitlines() if line.startswith("  export "))
        command_env = dict(env)
        for assignment in shlex.split(export.strip().removeprefix("export ")):
            name, _, value = assignment.partition("=")
            command_env[name] = value
        mint = next(line for line in printout.splitlines() if "wslocal.client mint" in line)
        minted = subprocess.run(
            shlex.split(mint),
            cwd=tmp_path,
            env=command_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert minted.returncode == 0, minted.stderr
        assert "--sub yan --session lab-7" in mint
        token = minted.stdout.strip()

        async def ping() -> object:
            async with WsClient(url, token) as client:
                await client.send_json({"type": "ping"})
                return await client.receive_json(10)

        reply = asyncio.run(ping())
        assert isinstance(reply, dict)
        assert reply["type"] == "pong"

        process.send_signal(signal.SIGINT)
        rest = _until(lines, "[stack] stopped", timeout=200)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"[stack] logs kept in {logs}" in rest
    kept = sorted(path.name for path in logs.glob("*.log"))
    assert kept == ["backend.log", "emulator.log", "gateway.log", "terraform.log"]
    assert "terraform destroy" in (logs / "terraform.log").read_text()
    assert not any(port_accepts(port) for port in (emulator, gateway, backend, connections))
