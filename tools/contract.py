"""`make contract`: the copies of contract/contract.json, generated.

    python tools/contract.py --write    # rewrite every copy
    python tools/contract.py --check    # exit 1, naming each copy that differs

Copies (each says it is generated and from what):

- ``sdk/python/src/ws_bridge_backend/contract.py``: the Python constants, for the backend
  SDK and for the Lambda package, which bundles this module (standard library only);
- ``sdk/node/contract.js``: the Node verifier's signing constants;
- the blocks of ``docs/design.md`` between ``<!-- BEGIN_CONTRACT_<NAME> -->`` and
  ``<!-- END_CONTRACT_<NAME> -->``: the environment of each function, the error codes and
  the ``$connect`` rejections.

Terraform is not generated: tests/packaging/test_contract.py checks it against the file.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "contract" / "contract.json"
PYTHON = ROOT / "sdk" / "python" / "src" / "ws_bridge_backend" / "contract.py"
NODE = ROOT / "sdk" / "node" / "contract.js"
DESIGN = ROOT / "docs" / "design.md"
NOTICE = "Generated from contract/contract.json by tools/contract.py (make contract): do not edit."


def load(path: Path = SOURCE) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# ---------------------------------------------------------------------------- Python


def _py(value: Any) -> str:
    """A Python literal of a JSON value (tuples for lists: the constants are frozen)."""
    if isinstance(value, list):
        items = ", ".join(_py(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _env_var(name: str, spec: Mapping[str, Any]) -> str:
    fields = [f"name={name!r}", f"type={spec['type']!r}"]
    for key in ("default", "min", "max"):
        if key in spec:
            fields.append(f"{key}={spec[key]!r}")
    if spec.get("required"):
        fields.append("required=True")
    return f"    {name!r}: EnvVar({', '.join(fields)}),"


def python(contract: Mapping[str, Any]) -> str:
    env = contract["environment"]
    signing = contract["signing"]
    lines = [
        '"""The facts every part shares.',
        "",
        f"{NOTICE}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal, NamedTuple",
        "",
        "",
        "class EnvVar(NamedTuple):",
        '    """An environment variable of a function: its type, default and bounds."""',
        "",
        "    name: str",
        "    type: str",
        "    default: str | int | float | bool | None = None",
        "    min: int | float | None = None",
        "    max: int | float | None = None",
        "    required: bool = False",
        "",
        "",
    ]
    for function in ("authorizer", "connection_handler"):
        lines.append(f"{function.upper()}_ENVIRONMENT: dict[str, EnvVar] = {{")
        lines += [_env_var(name, spec) for name, spec in env[function].items()]
        lines += ["}", ""]
    codes = ", ".join(repr(code) for code in contract["errors"])
    lines += [f"type ErrorCode = Literal[{codes}]", ""]
    lines.append("# The connection handler's error replies: the integration status, the text.")
    lines.append("ERRORS: dict[ErrorCode, tuple[int, str]] = {")
    lines += [
        f"    {code!r}: ({spec['status']}, {spec['message']!r}),"
        for code, spec in contract["errors"].items()
    ]
    lines += ["}", "", "# $connect rejections: the status API Gateway refuses the upgrade with."]
    lines.append("REJECTIONS: dict[str, int] = {")
    rejections = contract["rejections"].items()
    lines += [f"    {reason!r}: {spec['status']}," for reason, spec in rejections]
    lines += ["}", ""]
    url = contract["backend_url"]
    algorithms = contract["jwt_algorithms"]
    lines += [
        f"BACKEND_URL_SCHEMES = {_py(url['schemes'])}",
        f"BACKEND_URL_HTTP_HOSTS = {_py(url['http_hosts'])}",
        f"HMAC_ALGORITHMS = {_py(algorithms['hmac'])}",
        f"ASYMMETRIC_ALGORITHMS = {_py(algorithms['asymmetric'])}",
        f"LOG_LEVELS = {_py(contract['log_levels'])}",
        "",
    ]
    lines += [f"{key.upper()} = {_py(value)}" for key, value in contract["limits"].items()]
    lines.append("")
    lines += [
        f"REGISTRY_{key.upper()} = {_py(value)}"
        for key, value in contract["registry"].items()
        if not key.startswith("$")
    ]
    lines += [
        "",
        f"SIGNING_VERSION = {signing['version']!r}",
        f"SIGNING_WINDOW_SECONDS = {signing['window_seconds']!r}",
        f"SIGNING_MIN_KEY_BYTES = {signing['min_key_bytes']!r}",
    ]
    lines += [f"{kind.upper()}_HEADER = {header!r}" for kind, header in signing["headers"].items()]
    lines += [
        f"TRUSTED_HEADERS = {_py(signing['trusted_headers'])}",
        f"SIGNATURE_REFUSALS = {_py(signing['refusals'])}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- Node


def node(contract: Mapping[str, Any]) -> str:
    signing = contract["signing"]
    headers = {kind: header.lower() for kind, header in signing["headers"].items()}
    body = {
        "VERSION": signing["version"],
        "TIMESTAMP_HEADER": headers["timestamp"],
        "NONCE_HEADER": headers["nonce"],
        "SIGNED_HEADERS_HEADER": headers["signed_headers"],
        "SIGNATURE_HEADER": headers["signature"],
        "TRUSTED_HEADERS": signing["trusted_headers"],
        "MAX_CLOCK_SKEW_SECONDS": signing["window_seconds"],
        "MIN_KEY_BYTES": signing["min_key_bytes"],
        "REASONS": signing["refusals"],
    }
    lines = ['"use strict";', f"// {NOTICE}", ""]
    for name, value in body.items():
        literal = json.dumps(value)
        if isinstance(value, list):
            literal = f"Object.freeze({literal})"
        lines.append(f"const {name} = {literal};")
    lines += ["", f"module.exports = {{ {', '.join(body)} }};", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- docs


def _default(spec: Mapping[str, Any]) -> str:
    if spec.get("required"):
        return "required"
    if "default" not in spec:
        return "unset"
    value = spec["default"]
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"`{text}`"


def _env_table(variables: Mapping[str, Any]) -> str:
    rows = ["| variable | meaning | default | bounds |", "|---|---|---|---|"]
    for name, spec in variables.items():
        low, high = spec.get("min", ">0"), spec.get("max")
        bounds = "" if high is None else f"{low} to {high}"
        rows.append(f"| `{name}` | {spec['meaning']} | {_default(spec)} | {bounds} |")
    return "\n".join(rows)


def doc_blocks(contract: Mapping[str, Any]) -> dict[str, str]:
    errors = ["| code | status | message |", "|---|---|---|"]
    errors += [
        f"| `{code}` | {spec['status']} | {spec['message']} |"
        for code, spec in contract["errors"].items()
    ]
    rejections = ["| reason | status | when |", "|---|---|---|"]
    rejections += [
        f"| `{reason}` | {spec['status']} | {spec['meaning']} |"
        for reason, spec in contract["rejections"].items()
    ]
    return {
        "AUTHORIZER_ENV": _env_table(contract["environment"]["authorizer"]),
        "HANDLER_ENV": _env_table(contract["environment"]["connection_handler"]),
        "ERRORS": "\n".join(errors),
        "REJECTIONS": "\n".join(rejections),
    }


def with_blocks(text: str, blocks: Mapping[str, str], path: Path) -> str:
    for name, block in blocks.items():
        pattern = re.compile(
            rf"(<!-- BEGIN_CONTRACT_{name} -->\n).*?(<!-- END_CONTRACT_{name} -->)", re.DOTALL
        )
        if not pattern.search(text):
            raise SystemExit(f"{path}: no BEGIN_CONTRACT_{name}/END_CONTRACT_{name} markers")
        begin, end = f"<!-- BEGIN_CONTRACT_{name} -->\n", f"<!-- END_CONTRACT_{name} -->"
        text = pattern.sub(lambda _match: f"{begin}{block}\n{end}", text)  # noqa: B023
    return text


# ---------------------------------------------------------------------------- main


def formatted(source: str, path: Path) -> str:
    """``source`` as ``ruff format`` writes it (the repository's style, so lint passes)."""
    return subprocess.run(  # noqa: S603 - this interpreter's ruff, on text of our making
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def copies(contract: Mapping[str, Any]) -> dict[Path, Callable[[str], str]]:
    """Each generated file, and how to make its new text from its current one."""
    blocks = doc_blocks(contract)

    def python_copy(_old: str) -> str:
        return formatted(python(contract), PYTHON)

    def node_copy(_old: str) -> str:
        return node(contract)

    def design_copy(old: str) -> str:
        return with_blocks(old, blocks, DESIGN)

    return {PYTHON: python_copy, NODE: node_copy, DESIGN: design_copy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/contract.py", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite every copy")
    mode.add_argument("--check", action="store_true", help="exit 1 when a copy differs")
    args = parser.parse_args(argv)
    stale = []
    for path, make in copies(load()).items():
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        new = make(old)
        if new == old:
            continue
        if args.write:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print(f"out of date with contract/contract.json (run make contract): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
