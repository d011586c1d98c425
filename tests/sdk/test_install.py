"""The SDK installs as its own distribution, from its directory and from the wheel
`make sdk-wheel` builds, into a fresh virtualenv that has nothing of this repository; its
core then imports with the standard library alone."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "python"
CORE = ["signing", "keys", "replay", "verifier", "calls", "wsgi", "asgi"]
PROBE = (
    "import sys, importlib;"
    + "".join(f"importlib.import_module('ws_bridge_backend.{name}');" for name in CORE)
    + "import ws_bridge_backend as b;"
    "assert b.__version__ == '0.1.0', b.__version__;"
    "assert b.RequestVerifier.__module__ == 'ws_bridge_backend.verifier';"
    "heavy = sorted(m for m in ('boto3', 'botocore', 'redis') if m in sys.modules);"
    "assert not heavy, heavy;"
    "import ws_bridge_backend.verifier as v; print(v.__file__)"
)


def fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        check=True,
        timeout=300,
    )


def probe(python: Path, cwd: Path) -> str:
    # From another directory, with no PYTHONPATH: only what was installed can be imported.
    result = subprocess.run(
        [str(python), "-I", "-c", PROBE], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def source_copy(tmp_path: Path) -> Path:
    """The SDK's directory as a clone has it: setuptools builds in place (``build/``, the
    egg-info), and a build left there by an earlier run (another test, another worker) must
    not leak stale files into this one's wheel."""
    copy = tmp_path / "sdk-source"
    shutil.copytree(SDK, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return copy


@pytest.mark.timeout(600)
def test_the_sdk_installs_from_its_directory_and_from_its_wheel(tmp_path: Path) -> None:
    source = source_copy(tmp_path)
    python = fresh_venv(tmp_path / "from-directory")
    pip(python, str(source))
    installed = probe(python, tmp_path)
    assert installed.startswith(str(tmp_path / "from-directory"))

    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--wheel-dir", str(wheels), str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("ws_bridge_backend-0.1.0-py3-none-any.whl")
    python = fresh_venv(tmp_path / "from-wheel")
    pip(python, str(wheel))
    assert probe(python, tmp_path).startswith(str(tmp_path / "from-wheel"))
    read = (
        "import importlib.metadata as m;"
        "print(*m.metadata('ws-bridge-backend').get_all('Requires-Dist'), sep='\\n')"
    )
    shown = subprocess.run(
        [str(python), "-I", "-c", read], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert shown.returncode == 0, shown.stderr
    metadata = shown.stdout
    assert metadata.splitlines() == [
        'boto3>=1.34; extra == "aws"',
        'aiohttp>=3.10; extra == "aws"',
        'redis>=5; extra == "redis"',
    ]


def readme_install_command() -> list[str]:
    """The README's `pip install "git+https://…#subdirectory=…"`, pointed at this checkout."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r'^pip install "git\+https://github\.com/<org>/apigw-websocket-bridge\.git'
        r'#subdirectory=([\w/]+)"$',
        readme,
        flags=re.MULTILINE,
    )
    assert match, "the README shows no pip install of the SDK from git"
    return [f"git+file://{ROOT}#subdirectory={match.group(1)}"]


@pytest.mark.timeout(600)
def test_the_readmes_git_install_works(tmp_path: Path) -> None:
    """As the README shows it, from this repository's committed tree (git clones HEAD)."""
    python = fresh_venv(tmp_path / "from-git")
    pip(python, *readme_install_command())
    assert probe(python, tmp_path).startswith(str(tmp_path / "from-git"))
