"""`make test` and `make demo` bring the programs they drive (tools/system-deps.sh).

Each case runs the script, or make itself, with a PATH of our making: fake programs in a
temporary folder hide whatever this machine has, so the detection and the messages are
tested on any machine, whether or not Chromium and Redis are installed here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "system-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _fake(folder: Path, name: str, body: str = "exit 0") -> Path:
    path = folder / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH folder with only what the script itself needs (no chromium, redis, node,
    terraform), and `id` answering as an ordinary user."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _fake(folder, "id", "echo 1000")
    for tool in ("mktemp", "rm", "tail", "cat", "chmod"):
        found = shutil.which(tool)
        assert found, tool
        (folder / tool).symlink_to(found)
    return folder


def _run(bin_dir: Path, *needs: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": str(bin_dir), **env}
    return subprocess.run(
        [BASH, str(SCRIPT), *needs],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nothing_to_do_when_every_program_is_there(bin_dir: Path) -> None:
    for name in ("terraform", "chromium", "redis-server", "node"):
        _fake(bin_dir, name)
    result = _run(bin_dir, "terraform", "chromium", "redis", "node")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_alternatives_count_as_present(bin_dir: Path) -> None:
    _fake(bin_dir, "chromium-browser")
    _fake(bin_dir, "valkey-server")
    assert _run(bin_dir, "chromium", "redis").returncode == 0


def test_without_root_one_line_names_the_packages_and_the_command(bin_dir: Path) -> None:
    started = time.monotonic()
    result = _run(bin_dir, "chromium", "redis")
    assert time.monotonic() - started < 5
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "chromium redis-server" in lines[0]
    assert "sudo apt-get install -y chromium redis-server" in lines[0]


def test_as_root_with_apt_the_packages_are_installed(bin_dir: Path, tmp_path: Path) -> None:
    _fake(bin_dir, "id", "echo 0")
    calls = tmp_path / "apt-calls"
    # The fake apt-get records its arguments and "installs" by creating the programs.
    _fake(
        bin_dir,
        "apt-get",
        f'echo "$*" >> {calls}\n'
        f'if [ "$1" = install ]; then for p in chromium redis-server; do\n'
        f'  printf "#!{BASH}\\nexit 0\\n" > {bin_dir}/$p; chmod +x {bin_dir}/$p\n'
        f"done; fi",
    )
    result = _run(bin_dir, "chromium", "redis")
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "update -qq",
        "install -y -qq chromium redis-server",
    ]
    assert "installing the distribution's chromium redis-server" in result.stderr
    # Once installed, nothing more happens.
    assert _run(bin_dir, "chromium", "redis").stderr == ""
    assert len(calls.read_text().splitlines()) == 2


def test_as_root_a_failed_install_says_so(bin_dir: Path) -> None:
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "apt-get", 'echo "E: Unable to locate package $3" >&2; exit 100')
    result = _run(bin_dir, "redis")
    assert result.returncode == 1
    assert "apt-get could not install redis-server" in result.stderr


def test_an_install_that_leaves_the_program_missing_fails(bin_dir: Path) -> None:
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "apt-get")
    result = _run(bin_dir, "node")
    assert result.returncode == 1
    assert "nodejs, but node is still not on PATH" in result.stderr


def test_terraform_is_named_with_where_to_get_it(bin_dir: Path) -> None:
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "apt-get", "exit 99")  # never asked: Terraform is no distribution package
    result = _run(bin_dir, "terraform", "redis")
    assert result.returncode == 1
    assert result.stderr.startswith("terraform not found")
    assert "developer.hashicorp.com/terraform/install" in result.stderr


def test_browser_executable_wins_and_is_checked(bin_dir: Path, tmp_path: Path) -> None:
    browser = _fake(tmp_path, "my-chromium")
    assert _run(bin_dir, "chromium", BROWSER_EXECUTABLE=str(browser)).returncode == 0
    _fake(bin_dir, "chromium")  # on PATH, but the configured one is what the tests use
    result = _run(bin_dir, "chromium", BROWSER_EXECUTABLE=str(tmp_path / "absent"))
    assert result.returncode == 1
    assert "BROWSER_EXECUTABLE=" in result.stderr


def test_an_unknown_need_is_a_usage_error(bin_dir: Path) -> None:
    assert _run(bin_dir, "postgres").returncode == 64
    assert _run(bin_dir).returncode == 64


@pytest.mark.parametrize("target", ["test", "demo"])
def test_make_stops_at_once_when_a_program_is_missing(bin_dir: Path, target: str) -> None:
    """`make test`/`make demo` on a machine without them, as an ordinary user: one line
    that names what to install, within seconds, before any virtualenv is built."""
    make = shutil.which("make")
    assert make
    (bin_dir / "bash").symlink_to(BASH)
    if target == "test":  # demo needs only terraform, hidden here
        _fake(bin_dir, "terraform")
        _fake(bin_dir, "node")
    started = time.monotonic()
    result = subprocess.run(
        [make, "-C", str(ROOT), target, "VENV=/nonexistent/venv"],
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert result.returncode != 0
    assert not Path("/nonexistent/venv").exists()
    expected = "terraform not found" if target == "demo" else "missing chromium redis-server"
    assert expected in result.stderr, result.stderr


def test_a_skipped_test_fails_the_run(tmp_path: Path) -> None:
    """tests/conftest.py turns every skip into a failure that carries its reason."""
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_needs.py").write_text(
        "import pytest\n\n"
        "def test_skips():\n    pytest.skip('needs a server')\n\n"
        "@pytest.mark.xfail(reason='known', strict=True)\n"
        "def test_xfails():\n    assert False\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 xfailed" in result.stdout
    assert "no test may skip: Skipped: needs a server" in result.stdout
