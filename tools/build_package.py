"""Build the Lambda deployment packages deterministically.

Two kinds of zip: `ws_bridge.zip`, the handler with PyJWT (small, changes with the code;
with unchecked-hash bytecode compiled by the runtime's Python, so cold starts skip compiling),
and `jwt-crypto-layer-<runtime>-<arch>.zip`, a Lambda layer with `cryptography` for the
asymmetric JWT algorithms (large, changes only with its pinned versions). Keeping the
compiled wheels in a layer keeps the frequently rebuilt handler zip small.

The same sources and pinned requirements always give byte-identical zips: entries are
sorted, timestamps fixed to 1980-01-01, permissions fixed, caches and installer records
left out. Terraform hashes the zip, so an unchanged package never redeploys.

    python tools/build_package.py --out build             # every package
    python tools/build_package.py --out build --only ws_bridge.zip
    python tools/build_package.py --list                  # the package names
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import marshal
import modulefinder
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "lambda" / "ws_bridge"
# The backend SDK: the handler signs with its standard-library ``ws_bridge_backend.signing``,
# shipped in the zip (only the SDK modules the functions import).
SDK_SOURCE = ROOT / "sdk" / "python" / "src"
SDK_PACKAGE = "ws_bridge_backend"
FUNCTION_ENTRIES = (
    "ws_bridge/handler.py",
    "ws_bridge/authorizer.py",
    "ws_bridge/fanout.py",
    "ws_bridge/gauge.py",
)
REQUIREMENTS = ROOT / "lambda" / "requirements.txt"
CRYPTO_REQUIREMENTS = ROOT / "lambda" / "requirements-crypto.txt"

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
# Files pip writes about the installation itself, not the distribution: they vary with
# the pip version and the Lambda runtime does not read them.
INSTALLER_RECORDS = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}

PLATFORMS = {
    "x86_64": ["manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"],
    "arm64": ["manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"],
}


@dataclass(frozen=True)
class Package:
    """One zip: its file name, the requirement files vendored into it, and its layout."""

    name: str
    requirements: Path
    runtime: str
    architecture: str
    layer: bool  # a layer's files sit under python/ and it carries no handler code


def packages() -> list[Package]:
    """What the module ships: the handler, and one crypto layer per architecture."""
    built = [Package("ws_bridge.zip", REQUIREMENTS, "python3.12", "x86_64", layer=False)]
    for arch in ("x86_64", "arm64"):
        name = f"jwt-crypto-layer-python3.12-{arch}.zip"
        built.append(Package(name, CRYPTO_REQUIREMENTS, "python3.12", arch, layer=True))
    return built


def _pip_install(package: Package, target: Path) -> None:
    python_version = package.runtime.removeprefix("python")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--target",
        str(target),
    ]
    for platform in PLATFORMS[package.architecture]:
        command += ["--platform", platform]
    command += ["--requirement", str(package.requirements)]
    subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell


# Where Lambda unpacks the handler zip: the file name compiled into each code object, so a
# traceback names the path the function really runs from (and no build folder leaks in).
TASK_ROOT = "/var/task"


class RuntimeMismatchError(RuntimeError):
    pass


# What the two functions import ships compiled: every connect, message and disconnect runs
# the handler, and every connect burst pays the authorizer's cold start, of which compiling
# PyJWT was the largest part beyond boto3 and the key read (docs/performance.md, "Authorizer
# cold start"). That bytecode is about 60 KB of the zip. The rest (the SDK's modules for
# backends, PyJWT's unused ones) ships as source only.
COMPILED_ENTRIES = ("ws_bridge/handler.py", "ws_bridge/authorizer.py")
COMPILED_PACKAGES = ("ws_bridge", SDK_PACKAGE, "jwt")


def _imported(search: list[Path], entry: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """The modules of ``packages`` that ``entry`` imports, found in ``search`` (static
    analysis of the imports, so a new module joins by being imported), by name."""
    finder = modulefinder.ModuleFinder(path=[str(path) for path in search])
    finder.run_script(str(entry))
    found: dict[str, Path] = {}
    for name, module in finder.modules.items():
        path = getattr(module, "__file__", None)  # None for a built-in
        if path and any(name == p or name.startswith(f"{p}.") for p in packages):
            found[name] = Path(path)
    return found


def sdk_modules() -> list[Path]:
    """The backend SDK's source files the functions import: the package's ``__init__`` and
    the modules named. Each may import only the standard library and the SDK (the zip has
    neither boto3 beyond the runtime's nor redis)."""
    found: dict[str, Path] = {}
    for entry in FUNCTION_ENTRIES:
        found.update(
            _imported([ROOT / "lambda", SDK_SOURCE], ROOT / "lambda" / entry, (SDK_PACKAGE,))
        )
    for name, path in found.items():
        for imported in _imported([SDK_SOURCE], path, ("boto3", "botocore", "redis")):
            raise RuntimeError(
                f"{name} imports {imported}: the zip ships standard-library SDK modules only"
            )
    return sorted(found.values())


def function_modules(staging: Path) -> list[Path]:
    """The source files of ``ws_bridge``, the SDK and PyJWT that the connection handler or
    the authorizer imports (static analysis of their imports, so a new module joins the
    list by being imported)."""
    found = {staging / entry for entry in COMPILED_ENTRIES}
    for entry in COMPILED_ENTRIES:
        found.update(_imported([staging], staging / entry, COMPILED_PACKAGES).values())
    # PyJWT whole: modulefinder misses its `from .warnings import ...` (it takes the name
    # for the standard library's), and its one module no function imports is 1 KB.
    found.update((staging / "jwt").glob("*.py"))
    return sorted(found)


def _without_docstrings(tree: ast.Module) -> ast.Module:
    """``tree`` with the docstring of the module and of each class and function removed (a
    ``pass`` where it was the whole body). Every other node keeps its position, so line
    numbers in tracebacks still point into the source shipped beside the bytecode."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0] if node.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            if len(node.body) == 1:
                node.body[0] = ast.copy_location(ast.Pass(), first)
            else:
                del node.body[0]
    return tree


def compile_bytecode(staging: Path, runtime: str) -> list[Path]:
    """Compile the functions' modules (:func:`function_modules`) under ``staging`` to
    ``__pycache__/<name>.<tag>.pyc``.

    Unchecked-hash pycs (PEP 552): the header holds a hash of the source instead of its
    mtime (so the bytes depend on the source alone, and the zip stays reproducible), and the
    runtime never re-reads the source to check it (so a cold start neither compiles nor
    hashes). Lambda's /var/task is read-only: without these, every cold start compiles every
    module again. The bytecode leaves docstrings out (they are for readers of the source,
    which ships too, and no handler module reads ``__doc__``): a sixth of the zip. Asserts and
    ``__debug__`` stay as the source has them (unlike ``python -OO``).
    """
    wanted = tuple(int(part) for part in runtime.removeprefix("python").split("."))
    if sys.version_info[:2] != wanted:
        raise RuntimeMismatchError(
            f"bytecode for {runtime} must be compiled by Python {runtime.removeprefix('python')}"
            f" (this is {sys.version_info.major}.{sys.version_info.minor}): "
            "run the build with that interpreter (make PYTHON=/path/to/python3.12)"
        )
    compiled = []
    for source in function_modules(staging):
        relative = source.relative_to(staging).as_posix()
        target = Path(importlib.util.cache_from_source(str(source)))
        text = source.read_bytes()
        tree = _without_docstrings(ast.parse(text, filename=str(source)))
        code = compile(tree, f"{TASK_ROOT}/{relative}", "exec", dont_inherit=True, optimize=0)
        flags = 0b01  # hash-based, unchecked
        header = importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(header + importlib.util.source_hash(text) + marshal.dumps(code))
        compiled.append(target)
    return compiled


def _files(staging: Path, bytecode: bool = False) -> list[tuple[str, Path]]:
    entries: list[tuple[str, Path]] = []
    for path in staging.rglob("*"):
        if not path.is_file():
            continue
        in_cache = "__pycache__" in path.parts or path.suffix == ".pyc"
        if in_cache and not (bytecode and path.suffix == ".pyc"):
            continue
        relative = path.relative_to(staging)
        if relative.parent.name.endswith(".dist-info") and relative.name in INSTALLER_RECORDS:
            continue
        if "bin" in relative.parts[:2]:  # console scripts: not used by the runtime
            continue
        entries.append((relative.as_posix(), path))
    return sorted(entries)


def write_zip(staging: Path, destination: Path, bytecode: bool = False) -> None:
    """Zip every file below `staging` with fixed metadata, in sorted order (with the
    ``__pycache__/*.pyc`` files when ``bytecode``)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in _files(staging, bytecode):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(destination)


def build(package: Package, out: Path) -> Path:
    """Stage the handler and its pinned dependencies, then zip them to `out/<name>`."""
    with tempfile.TemporaryDirectory(prefix="ws-bridge-package-") as tmp:
        staging = Path(tmp)
        if package.layer:
            _pip_install(package, staging / "python")
            destination = out / package.name
            write_zip(staging, destination)
            return destination
        _pip_install(package, staging)
        handler = staging / "ws_bridge"
        sources = [(source, handler / source.relative_to(SOURCE)) for source in SOURCE.rglob("*")]
        sources += [(source, staging / source.relative_to(SDK_SOURCE)) for source in sdk_modules()]
        for source, copy in sorted(sources):
            if source.is_file() and "__pycache__" not in source.parts:
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(source.read_bytes())
        compile_bytecode(staging, package.runtime)
        destination = out / package.name
        write_zip(staging, destination, bytecode=True)
        return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder")
    parser.add_argument("--list", action="store_true", help="print the package names and exit")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="build only this package (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(p.name for p in packages()))
        return 0
    wanted = [p for p in packages() if not args.only or p.name in args.only]
    unknown = set(args.only) - {p.name for p in packages()}
    if unknown:
        parser.error(f"unknown package(s): {', '.join(sorted(unknown))}")
    for package in wanted:
        path = build(package, args.out)
        print(f"built {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
