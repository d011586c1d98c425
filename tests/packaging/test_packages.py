"""The shipped Lambda packages: deterministic, complete, and in step with the sources.

Users who take the module by git URL deploy `packages/*.zip` without running `make`, so a
shipped zip that no longer matches `lambda/` would deploy stale code. Rebuilding needs the
pinned wheels from the package index (or pip's cache).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import build_package  # noqa: E402

NAMES = [package.name for package in build_package.packages()]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("packages")
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_package.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.parametrize("name", NAMES)
def test_shipped_package_matches_the_sources(rebuilt: Path, name: str) -> None:
    shipped = ROOT / "packages" / name
    assert shipped.is_file(), f"packages/{name} is missing: run `make ship-packages`"
    assert _sha256(shipped) == _sha256(rebuilt / name), (
        f"packages/{name} differs from a build of the current sources: run `make ship-packages`"
    )


def test_build_is_byte_identical_across_runs(rebuilt: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "build_package.py"),
            "--out",
            str(tmp_path),
            "--only",
            "ws_bridge.zip",
        ],
        check=True,
        capture_output=True,
    )
    assert _sha256(tmp_path / "ws_bridge.zip") == _sha256(rebuilt / "ws_bridge.zip")


@pytest.mark.parametrize("name", NAMES)
def test_entries_are_sorted_with_fixed_metadata(rebuilt: Path, name: str) -> None:
    with zipfile.ZipFile(rebuilt / name) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {build_package.FIXED_TIME}
    assert {info.external_attr >> 16 for info in infos} == {build_package.FILE_MODE}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.rsplit("/", 1)[-1] in build_package.INSTALLER_RECORDS]


def test_handler_package_holds_the_handler_and_pyjwt_only(rebuilt: Path) -> None:
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        names = set(archive.namelist())
    sources = {
        f"ws_bridge/{p.relative_to(ROOT / 'lambda' / 'ws_bridge').as_posix()}"
        for p in (ROOT / "lambda" / "ws_bridge").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sources <= names
    assert {"ws_bridge/handler.py", "ws_bridge/authorizer.py", "jwt/__init__.py"} <= names
    # boto3 and urllib3 come with the Lambda runtime; cryptography comes in the layer.
    tops = {n.split("/", 1)[0] for n in names}
    assert tops <= {"ws_bridge", "jwt"} | {t for t in tops if t.endswith(".dist-info")}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_crypto_layer_is_laid_out_for_lambda(rebuilt: Path, arch: str) -> None:
    with zipfile.ZipFile(rebuilt / f"jwt-crypto-layer-python3.12-{arch}.zip") as archive:
        names = archive.namelist()
    assert all(n.startswith("python/") for n in names)
    assert "python/cryptography/__init__.py" in names
    machine = "x86_64" if arch == "x86_64" else "aarch64"
    backends = [n for n in names if n.startswith("python/_cffi_backend.cpython-312-")]
    assert backends == [f"python/_cffi_backend.cpython-312-{machine}-linux-gnu.so"]
    assert not [n for n in names if "ws_bridge" in n]


def test_entry_points_import_from_the_package_alone(rebuilt: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        archive.extractall(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import jwt, ws_bridge.handler as h, ws_bridge.authorizer as a;"
        "assert callable(h.handler) and callable(a.handler);"
        "assert jwt.__file__.startswith(sys.argv[1]), jwt.__file__"
    )
    # Both modules read their settings at import, as on a cold start.
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CONNECTIONS_TABLE": "connections",
        "BACKEND_URL": "https://backend.example.com",
        "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
    }
    subprocess.run([sys.executable, "-c", probe, str(tmp_path)], check=True, env=environment)
