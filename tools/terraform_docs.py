"""Generate the README's inputs and outputs tables from the root module (python-hcl2).

    python tools/terraform_docs.py --write README.md   # rewrite the tables in place
    python tools/terraform_docs.py --check README.md   # exit 1 when the tables are stale

The tables sit between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes and `${…}` wrappers; remove them for display."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        match = re.fullmatch(r"\$\{(.*)\}", value, flags=re.DOTALL)
        if match:
            return match.group(1)
        return value
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    found: list[tuple[str, dict[str, Any]]] = []
    for block in parsed.get(kind, []):
        for name, body in block.items():
            found.append((_unquote(name), _unquote(body)))
    return sorted(found)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _code(value: Any) -> str:
    rendered = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    rendered = re.sub(r"\s+", " ", rendered)
    return f"`{_cell(rendered)}`"


def render(module: Path) -> str:
    """The markdown for `module`'s variables.tf and outputs.tf."""
    lines = ["### Inputs", "", "| Name | Description | Type | Default | Required |"]
    lines.append("|---|---|---|---|:---:|")
    for name, body in _blocks(module / "variables.tf", "variable"):
        required = "default" not in body
        default = "n/a" if required else _code(body["default"])
        description = _cell(str(body.get("description", "")))
        kind = _code(body.get("type", "any"))
        lines.append(
            f"| `{name}` | {description} | {kind} | {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "### Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in _blocks(module / "outputs.tf", "output"):
        lines.append(f"| `{name}` | {_cell(str(body.get('description', '')))} |")
    return "\n".join(lines)


def replace_tables(readme: str, tables: str) -> str:
    """`readme` with the text between the markers replaced by `tables`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README needs the markers {BEGIN} and {END}")
    return readme[: start + len(BEGIN)] + "\n" + tables + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="README", help="rewrite the tables")
    mode.add_argument("--check", type=Path, metavar="README", help="fail when stale")
    parser.add_argument("--module", type=Path, default=ROOT, help="module folder")
    args = parser.parse_args(argv)
    readme_path: Path = args.write or args.check
    current = readme_path.read_text(encoding="utf-8")
    wanted = replace_tables(current, render(args.module))
    if args.write:
        readme_path.write_text(wanted, encoding="utf-8")
        return 0
    if wanted != current:
        print(f"{readme_path}: inputs/outputs tables are stale; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
