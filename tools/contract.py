"""`make contract`: the copies of contract/contract.json, generated.

    python tools/contract.py --write    # rewrite every copy
    python tools/contract.py --check    # exit 1, naming each copy that differs

Copies (each says it is generated and from what):

- ``sdk/python/src/ws_bridge_backend/contract.py``: the Python constants, for the backend
  SDK and for the Lambda package, which bundles this module (standard library only);
- ``sdk/node/contract.js``: the Node verifier's signing constants;
- ``clients/browser/contract.js`` and ``contract.d.ts``, and
  ``clients/python/src/ws_bridge_client/contract.py``: what the clients need (the limits, the
  handler's error codes, the session protocol's ids, frames, client error codes, defaults);
- the ``constants`` of ``sdk/vectors/protocol.json``, the session protocol's shared examples
  (its ``cases`` are written by hand);
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
BROWSER = ROOT / "clients" / "browser" / "contract.js"
BROWSER_TYPES = ROOT / "clients" / "browser" / "contract.d.ts"
PYTHON_CLIENT = ROOT / "clients" / "python" / "src" / "ws_bridge_client" / "contract.py"
VECTORS = ROOT / "sdk" / "vectors" / "protocol.json"
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
    # The generated module from top to bottom, one section a fact: long, not complex.
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
    for function in env:
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
    lines += _python_session(contract["session"])
    lines += _python_fanout(contract["fanout"])
    return "\n".join(lines)


def _python_fanout(fanout: Mapping[str, Any]) -> list[str]:
    """Topics and the fan-out queue: the message's fields, its limits, the table's keys."""
    lines = ["# Topics and the fan-out queue (docs/fanout.md)."]
    lines += [
        f"FANOUT_{key.upper()} = {_py(value)}"
        for key, value in fanout.items()
        if not key.startswith("$") and not isinstance(value, dict)
    ]
    lines += [f"FANOUT_FIELD_{key.upper()} = {value!r}" for key, value in fanout["fields"].items()]
    lines += [
        f"SUBSCRIPTIONS_{key.upper()} = {value!r}" for key, value in fanout["subscriptions"].items()
    ]
    return [*lines, ""]


def _frame_types(session: Mapping[str, Any]) -> dict[str, str]:
    """Every frame type by sender, as constant names (`resync_required` → RESYNC_REQUIRED)."""
    types: dict[str, str] = {}
    for frames in session["frames"].values():
        for kind in frames:
            if kind not in ("request", "reply", "push"):  # these carry the app's own type
                types[kind.upper()] = kind
    return types


def _python_session(session: Mapping[str, Any]) -> list[str]:
    lines = [
        '# The session protocol (docs/design.md, "Session protocol").',
        f"ID_PATTERN = {session['id_pattern']!r}",
        f"CLIENT_ID_LENGTH = {session['client_id_length']!r}",
        "type ClientErrorCode = Literal["
        + ", ".join(repr(code) for code in session["client_error_codes"])
        + "]",
        "CLIENT_ERROR_CODES: tuple[ClientErrorCode, ...] = "
        + _py(list(session["client_error_codes"])),
        f"CLIENT_DEFAULTS_MS = {session['client_defaults_ms']!r}",
        f"CLIENT_DEFAULTS = {session['client_defaults']!r}",
        "# W3C Trace Context: frame field, backend header, a valid value, a new trace's flags.",
        f"TRACE_FIELD = {session['trace']['field']!r}",
        f"TRACE_HEADER = {session['trace']['header']!r}",
        f"TRACEPARENT_PATTERN = {session['trace']['pattern']!r}",
        f"TRACE_NEW_FLAGS = {session['trace']['new_flags']!r}",
        "",
        "",
        "class FrameType:",
        '    """The `type` of every frame the protocol names."""',
        "",
    ]
    lines += [f"    {name} = {kind!r}" for name, kind in _frame_types(session).items()]
    return [*lines, ""]


def python_client(contract: Mapping[str, Any]) -> str:
    """The Python client's copy: the limits, the handler's codes, the session protocol."""
    limits = contract["limits"]
    lines = [
        '"""What the client shares with the other parts.',
        "",
        f"{NOTICE}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal",
        "",
        f"MAX_MESSAGE_BYTES = {limits['max_message_bytes']!r}",
        f"MAX_FRAME_BYTES = {limits['max_frame_bytes']!r}",
        f"HANDLER_ERROR_CODES = {_py(list(contract['errors']))}",
        "",
        *_python_session(contract["session"]),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- browser


def _js_enum(name: str, codes: Mapping[str, str] | list[str], doc: str) -> list[str]:
    lines = [f"/** {doc} */", f"export const {name} = Object.freeze({{"]
    for code in codes:
        meaning = codes[code] if isinstance(codes, Mapping) else ""
        comment = f" // {meaning}" if meaning else ""
        lines.append(f'  {code.upper()}: "{code}",{comment}')
    return [*lines, "});"]


def browser(contract: Mapping[str, Any]) -> str:
    session, limits = contract["session"], contract["limits"]
    lines = [f"// {NOTICE}", ""]
    lines += [
        "/** API Gateway's limits: a message (either way), and one frame of it. */",
        f"export const MAX_MESSAGE_BYTES = {limits['max_message_bytes']};",
        f"export const MAX_FRAME_BYTES = {limits['max_frame_bytes']};",
        "/** A request id. */",
        f"export const ID_PATTERN = /{session['id_pattern']}/;",
        f"export const CLIENT_ID_LENGTH = {session['client_id_length']};",
        "/** W3C Trace Context: the frame field, a valid value, a new trace's flags. */",
        f'export const TRACE_FIELD = "{session["trace"]["field"]}";',
        f"export const TRACEPARENT_PATTERN = /{session['trace']['pattern']}/;",
        f'export const TRACE_NEW_FLAGS = "{session["trace"]["new_flags"]}";',
        "",
    ]
    handler_codes = {code: "" for code in contract["errors"]}
    lines += _js_enum(
        "BackendErrorCode",
        handler_codes,
        'Error codes the connection handler sends in `{"type":"error","error":<code>}`.',
    )
    lines.append("")
    lines += _js_enum(
        "ClientErrorCode", session["client_error_codes"], "Errors a client raises itself."
    )
    lines.append("")
    lines.append("/** The clients' defaults (milliseconds, and counts). */")
    defaults_ms = json.dumps(session["client_defaults_ms"])
    lines.append(f"export const CLIENT_DEFAULTS_MS = Object.freeze({defaults_ms});")
    lines.append(
        f"export const CLIENT_DEFAULTS = Object.freeze({json.dumps(session['client_defaults'])});"
    )
    lines.append("")
    lines.append("/** The `type` of every frame the protocol names. */")
    lines.append(f"export const FrameType = Object.freeze({json.dumps(_frame_types(session))});")
    return "\n".join(lines) + "\n"


def browser_types(contract: Mapping[str, Any]) -> str:
    session = contract["session"]

    def declared(name: str, codes: list[str]) -> list[str]:
        members = [f'  readonly {code.upper()}: "{code}";' for code in codes]
        alias = f"export type {name} = (typeof {name})[keyof typeof {name}];"
        return [f"export declare const {name}: {{", *members, "};", alias, ""]

    lines = [f"// {NOTICE}", ""]
    lines += [
        "export declare const MAX_MESSAGE_BYTES: number;",
        "export declare const MAX_FRAME_BYTES: number;",
        "export declare const ID_PATTERN: RegExp;",
        "export declare const CLIENT_ID_LENGTH: number;",
        "export declare const TRACE_FIELD: string;",
        "export declare const TRACEPARENT_PATTERN: RegExp;",
        "export declare const TRACE_NEW_FLAGS: string;",
        "",
    ]
    lines += declared("BackendErrorCode", list(contract["errors"]))
    lines += declared("ClientErrorCode", list(session["client_error_codes"]))
    lines += declared("FrameType", list(_frame_types(session).values()))
    defaults = ", ".join(f"readonly {key}: number" for key in session["client_defaults_ms"])
    counts = ", ".join(f"readonly {key}: number" for key in session["client_defaults"])
    lines += [
        f"export declare const CLIENT_DEFAULTS_MS: {{ {defaults} }};",
        f"export declare const CLIENT_DEFAULTS: {{ {counts} }};",
    ]
    return "\n".join(lines) + "\n"


def vectors(contract: Mapping[str, Any], old: str) -> str:
    """protocol.json with its `constants` made from the contract; the rest of the file (its
    hand-written cases) is left as it is, byte for byte."""
    session, limits = contract["session"], contract["limits"]
    constants = {
        "maxMessageBytes": limits["max_message_bytes"],
        "maxFrameBytes": limits["max_frame_bytes"],
        "idPattern": session["id_pattern"],
        "clientIdLength": session["client_id_length"],
        "handlerErrorCodes": list(contract["errors"]),
        "clientErrorCodes": list(session["client_error_codes"]),
        "defaultsMs": session["client_defaults_ms"],
        "defaults": session["client_defaults"],
    }
    body = ",\n".join(
        f"    {json.dumps(key)}: {json.dumps(value)}" for key, value in constants.items()
    )
    start = old.index('  "constants": {')
    end = old.index("\n  },\n", start) + len("\n  },\n")
    return f'{old[:start]}  "constants": {{\n{body}\n  }},\n{old[end:]}'


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
        "TRACE_HEADER": contract["session"]["trace"]["header"],
        "TRACEPARENT_PATTERN": contract["session"]["trace"]["pattern"],
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

    return {
        PYTHON: python_copy,
        NODE: node_copy,
        BROWSER: lambda _old: browser(contract),
        BROWSER_TYPES: lambda _old: browser_types(contract),
        PYTHON_CLIENT: lambda _old: formatted(python_client(contract), PYTHON_CLIENT),
        VECTORS: lambda old: vectors(contract, old),
        DESIGN: design_copy,
    }


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
