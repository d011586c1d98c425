"""Variable descriptions read like aws-ia's: an object input's description is a heredoc with one
bullet per attribute, and no description is a paragraph on one line.

The sub-modules the root composes and nobody calls alone (functions, websocket_api,
connections_table) describe their object inputs as the root's, by reference; the root, the
optional parts and the examples carry the bullets."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import terraform_docs  # noqa: E402

INTERNAL = {"functions", "websocket_api", "connections_table"}
FILES = sorted(
    list(ROOT.glob("variables*.tf"))
    + [p for p in ROOT.glob("modules/*/variables.tf")]
    + [p for p in ROOT.glob("examples/*/variables.tf")]
)
MAX_SINGLE_LINE = 200
MAX_HEREDOC_LINE = 100


def attributes(declared: str) -> list[str]:
    """The top-level attribute names of an `object({...})` type, else []."""
    match = re.fullmatch(r"\$\{object\(\{(.*)\}\)\}", declared, flags=re.DOTALL)
    if match is None:
        return []
    names, depth, start, body = [], 0, 0, match.group(1)
    for index, char in enumerate(body + ","):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            entry = body[start:index]
            if "=" in entry:
                names.append(entry.split("=", 1)[0].strip())
            start = index + 1
    return names


def variables(path: Path) -> list[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        blocks = hcl2.load(handle).get("variable", [])
    return [(name.strip('"'), body) for block in blocks for name, body in block.items()]


def problems(path: Path) -> list[str]:
    found = []
    internal = path.parent.name in INTERNAL and path.parent.parent.name == "modules"
    for name, body in variables(path):
        description = terraform_docs._unquote(body.get("description", '""'))
        lines = description.rstrip("\n").split("\n")
        limit = MAX_SINGLE_LINE if len(lines) == 1 else MAX_HEREDOC_LINE
        found += [
            f"{name}: a line of {len(line)} characters" for line in lines if len(line) > limit
        ]
        names = attributes(str(body.get("type", "")))
        if internal or len(names) < 2:
            continue
        missing = [attribute for attribute in names if f"`{attribute}`" not in description]
        if missing or len(lines) == 1:
            found.append(f"{name}: no bullet for {', '.join(missing) or 'its attributes'}")
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_descriptions_read_like_a_list_of_attributes(path: Path) -> None:
    assert problems(path) == []


def test_the_check_catches_a_paragraph_and_a_missing_bullet(tmp_path: Path) -> None:
    path = tmp_path / "variables.tf"
    path.write_text(
        'variable "thing" {\n'
        f'  description = "{"word " * 60}"\n'
        "  type = object({\n    a = optional(string)\n    b = optional(number, 1)\n  })\n"
        "}\n"
    )
    assert problems(path) == [
        "thing: a line of 300 characters",
        "thing: no bullet for a, b",
    ]
