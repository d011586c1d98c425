"""Find the deployed code of a function and its layers, and lay out its execution
environment on disk."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "RUNTIME_PACKAGES",
    "PackageError",
    "code_sha256",
    "extract_package",
    "index_packages",
    "layer_paths",
    "make_opt_dir",
    "make_runtime_dir",
    "packages_for",
]

# What the AWS Lambda Python runtime provides next to the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


class PackageError(Exception):
    """A function's package cannot be found or unpacked."""


def code_sha256(path: Path) -> str:
    """Lambda's CodeSha256 of a zip: the base64 of its SHA-256 digest."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def index_packages(directories: Iterable[Path]) -> dict[str, Path]:
    """Map CodeSha256 → zip for every `*.zip` under `directories` (recursively)."""
    found: dict[str, Path] = {}
    for directory in directories:
        if not directory.is_dir():
            raise PackageError(f"package directory {directory} does not exist")
        for path in sorted(directory.rglob("*.zip")):
            if path.is_file():
                found.setdefault(code_sha256(path), path)
    return found


def extract_package(package: Path, destination: Path) -> Path:
    """Unpack `package` into `destination` (created), as Lambda unpacks into /var/task."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(package) as archive:
            archive.extractall(destination)  # zipfile drops absolute and ".." parts
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{package} is not a zip file: {exc}") from exc
    except OSError as exc:
        raise PackageError(f"cannot unpack {package} into {destination}: {exc}") from exc
    return destination


def make_opt_dir(layers: Sequence[Path], destination: Path) -> Path:
    """Unpack the layer zips into `destination` in the function's layer order, as Lambda
    unpacks them into /opt: folders merge, and a file in a later layer replaces the same
    file of an earlier one."""
    destination.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        extract_package(layer, destination)
    return destination


def layer_paths(opt: Path, runtime: str) -> list[Path]:
    """The folders of `opt` the Lambda Python runtime puts on `sys.path`, in its order:
    `python/lib/<runtime>/site-packages`, then `python`; those that exist."""
    candidates = [opt / "python" / "lib" / runtime / "site-packages", opt / "python"]
    return [path for path in candidates if path.is_dir()]


def make_runtime_dir(destination: Path, names: Iterable[str] = RUNTIME_PACKAGES) -> Path:
    """A directory holding links to this interpreter's copies of the packages the Lambda
    runtime provides, and nothing else."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise PackageError(f"{name} is not installed; the Lambda runtime provides it")
        if spec.submodule_search_locations:
            source = Path(next(iter(spec.submodule_search_locations)))
        elif spec.origin:
            source = Path(spec.origin)
        else:
            raise PackageError(f"cannot locate {name}")
        link = destination / source.name
        if not link.exists():
            os.symlink(source, link)
    return destination


def packages_for(shas: Mapping[str, str], directories: Iterable[Path]) -> dict[str, Path]:
    """For each name → CodeSha256 (a function's name, or a description of a layer), the
    zip with that hash; an error naming every one without a zip."""
    dirs = list(directories)
    index = index_packages(dirs)
    missing = {name: sha for name, sha in shas.items() if sha not in index}
    if missing:
        listing = ", ".join(f"{name} (CodeSha256 {sha})" for name, sha in sorted(missing.items()))
        where = ", ".join(str(d) for d in dirs) or "(no --package-dir given)"
        raise PackageError(
            f"no zip in {where} matches the deployed code of {listing}; "
            "build the package that was deployed, or point --package-dir at it"
        )
    return {name: index[sha] for name, sha in shas.items()}
