"""The shipped Lambda packages: deterministic, complete, and in step with the sources.

Users who take the module by git URL deploy `packages/*.zip` without running `make`, so a
shipped zip that no longer matches `lambda/` would deploy stale code. Rebuilding needs the
pinned wheels from the package index (or pip's cache).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import marshal
import subprocess
import sys
import types
import zipfile
from collections.abc import Iterator
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
    bytecode = [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    if name == "ws_bridge.zip":  # the functions' modules, compiled for the runtime
        assert bytecode
        assert all(n.startswith(PYCACHES) for n in bytecode), bytecode
        assert all(n.endswith(".cpython-312.pyc") for n in bytecode), bytecode
    else:
        assert not bytecode
    assert not [n for n in names if n.rsplit("/", 1)[-1] in build_package.INSTALLER_RECORDS]


HANDLER_MODULES = [
    "ws_bridge/__init__",
    "ws_bridge/aws",
    "ws_bridge/backend_client",
    "ws_bridge/client_message",
    "ws_bridge/closing",
    "ws_bridge/connections_table",
    "ws_bridge/events",
    "ws_bridge/handler",
    "ws_bridge/json_codec",
    "ws_bridge/logs",
    "ws_bridge/metrics",
    "ws_bridge/outcomes",
    "ws_bridge/settings",
    "ws_bridge/signing_key",
    "ws_bridge/token_sources",
    "ws_bridge/tracing",
    # The backend SDK's signing, which the handler signs with, and its traceparent, which the
    # handler checks and starts traces with: one definition for both sides; and the
    # contract's generated constants (environment, error codes, limits).
    "ws_bridge_backend/__init__",
    "ws_bridge_backend/contract",
    "ws_bridge_backend/signing",
    "ws_bridge_backend/traceparent",
]
# What the authorizer imports besides: its modules and PyJWT's (every connect burst pays its
# cold start, and compiling PyJWT was most of it).
AUTHORIZER_MODULES = [
    "ws_bridge/authorizer",
    "ws_bridge/jwt_verifier",
    "jwt/__init__",
    "jwt/algorithms",
    "jwt/api_jwk",
    "jwt/api_jws",
    "jwt/api_jwt",
    "jwt/exceptions",
    "jwt/jwk_set_cache",
    "jwt/jwks_client",
    "jwt/types",
    "jwt/utils",
    "jwt/warnings",
]
PYCACHES = ("ws_bridge/__pycache__/", "ws_bridge_backend/__pycache__/", "jwt/__pycache__/")


def _pyc(module: str) -> str:
    package, name = module.split("/")
    return f"{package}/__pycache__/{name}.cpython-312.pyc"


@pytest.mark.parametrize("module", HANDLER_MODULES + AUTHORIZER_MODULES)
def test_the_functions_modules_ship_as_unchecked_hash_bytecode(rebuilt: Path, module: str) -> None:
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        pyc = archive.read(_pyc(module))
        source = archive.read(f"{module}.py")
    assert pyc[:4] == importlib.util.MAGIC_NUMBER  # this interpreter's, asserted to be 3.12
    assert sys.version_info[:2] == (3, 12)
    # PEP 552: flags 0b01 = hash-based, source not checked; then the source's hash.
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    assert pyc[8:16] == importlib.util.source_hash(source)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_the_bytecode_leaves_docstrings_out_and_keeps_line_numbers(
    rebuilt: Path, module: str
) -> None:
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        pyc = archive.read(_pyc(module))
        source = archive.read(f"{module}.py")
    shipped = marshal.loads(pyc[16:])  # noqa: S302 - the bytecode this build just wrote
    plain = compile(source, f"/var/task/{module}.py", "exec", dont_inherit=True)
    # The same functions and classes, starting on the same lines: tracebacks read the source.
    assert [(c.co_qualname, c.co_firstlineno) for c in _code_objects(shipped)] == [
        (c.co_qualname, c.co_firstlineno) for c in _code_objects(plain)
    ]
    assert shipped.co_filename == f"/var/task/{module}.py"
    tree = ast.parse(source)
    docstrings = {
        text
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (text := ast.get_docstring(node, clean=False))
    }
    constants = {k for c in _code_objects(shipped) for k in c.co_consts if isinstance(k, str)}
    assert docstrings, module  # every handler module documents itself
    assert not docstrings & constants
    assert docstrings & {
        k for c in _code_objects(plain) for k in c.co_consts if isinstance(k, str)
    }  # the check above can fail: a plain compile keeps them


def test_the_compiled_modules_are_what_the_handler_imports(rebuilt: Path, tmp_path: Path) -> None:
    # Every ws_bridge module a cold start of the connection handler imports loads from its
    # bytecode, unchecked: each source is broken after extraction, and the import still works.
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        archive.extractall(tmp_path)
    for source in [
        *(tmp_path / "ws_bridge").glob("*.py"),
        *(tmp_path / "ws_bridge_backend").glob("*.py"),
    ]:
        with source.open("a") as file:
            file.write("\nraise ImportError('compiled from the source')\n")
    probe = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "import ws_bridge.handler;"
        "ours = ('ws_bridge', 'ws_bridge_backend');"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ours)));"
        "print(json.dumps('jwt' in sys.modules))"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
        "AWS_DEFAULT_REGION": "us-east-1",
        "CONNECTIONS_TABLE": "connections",
        "BACKEND_URL": "https://backend.example.com",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        check=True,
        env=environment,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    imported, jwt_imported = json.loads(out[0]), json.loads(out[1])
    assert sorted(n.replace(".", "/") if "." in n else f"{n}/__init__" for n in imported) == (
        HANDLER_MODULES
    )
    assert jwt_imported is False  # PyJWT stays out of the connection handler's cold start


def test_handler_package_holds_the_handler_the_signing_and_pyjwt_only(rebuilt: Path) -> None:
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
    assert tops <= {"ws_bridge", "ws_bridge_backend", "jwt"} | {
        t for t in tops if t.endswith(".dist-info")
    }
    # Of the backend SDK, only the modules the functions import: the standard-library ones,
    # and for the fan-out worker the registry, topics and the PostToConnection request,
    # which need boto3 only (not the push's aiohttp).
    sdk = {n for n in names if n.startswith("ws_bridge_backend/") and n.endswith(".py")}
    assert sdk == {
        "ws_bridge_backend/__init__.py",
        "ws_bridge_backend/connections_request.py",
        "ws_bridge_backend/contract.py",
        "ws_bridge_backend/registry.py",
        "ws_bridge_backend/signing.py",
        "ws_bridge_backend/topics.py",
        "ws_bridge_backend/traceparent.py",
    }


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


def test_the_authorizer_imports_nothing_it_must_compile(rebuilt: Path, tmp_path: Path) -> None:
    # A cold start of the authorizer loads every module of the zip it imports from bytecode,
    # unchecked: each source is broken after extraction, and the import still works.
    with zipfile.ZipFile(rebuilt / "ws_bridge.zip") as archive:
        archive.extractall(tmp_path)
    for package in ("ws_bridge", "ws_bridge_backend", "jwt"):
        for source in (tmp_path / package).glob("*.py"):
            with source.open("a") as file:
                file.write("\nraise ImportError('compiled from the source')\n")
    probe = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "import ws_bridge.authorizer;"
        "ours = ('ws_bridge', 'ws_bridge_backend', 'jwt');"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ours)))"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        check=True,
        env=environment,
        capture_output=True,
        text=True,
    ).stdout
    imported = {n.replace(".", "/") if "." in n else f"{n}/__init__" for n in json.loads(out)}
    assert set(AUTHORIZER_MODULES) <= imported
