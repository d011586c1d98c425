"""The browser client's modules under node's own test runner (tests/clients/js): its session
core replaying sdk/vectors/protocol.json, its constants against the vectors', the backoff's
spread, reading a token's exp, and the React hook (``react`` resolved to a stand-in for its
hooks). Fails, saying how to get it, without node."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).parent / "js"


def test_the_browser_clients_pure_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "no node on PATH: these tests need Node.js 20+ (make test installs the nodejs "
            "package when run as root with apt-get; otherwise sudo apt-get install -y nodejs)",
            pytrace=False,
        )
    tests = sorted(str(path) for path in JS_TESTS.glob("*.test.mjs"))
    assert tests, f"no *.test.mjs under {JS_TESTS}"
    hooks = str(JS_TESTS / "resolve-react.mjs")
    result = subprocess.run(
        [node, "--import", hooks, "--test", *tests],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    failures = [line for line in result.stdout.splitlines() if line.startswith("not ok")]
    assert result.returncode == 0, f"{failures}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert "# fail 0" in result.stdout
