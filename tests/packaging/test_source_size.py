"""Source files a maintainer can read: no product file over 500 lines, and no Python function
over 60 lines unless a comment says why it is long (on the lines just above its `def`, or
among the first lines of its body). Tests are held to neither: a table of cases is long on
purpose. The files are those git tracks, so a build's output never counts."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
# How far from the def a "why it is long" comment may sit: the two lines above it (a
# decorator between counts as part of the def) or the first lines of its body.
COMMENT_REACH = 3
SOURCE_SUFFIXES = (".py", ".js", ".ts", ".tf")


def product_sources() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in listed if name]
    return [
        path
        for path in paths
        if path.suffix in SOURCE_SUFFIXES
        and path.relative_to(ROOT).parts[0] != "tests"
        and path.exists()
    ]


def long_files(paths: list[Path], root: Path = ROOT) -> list[str]:
    counts = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in paths}
    return [f"{p.relative_to(root)}: {n}" for p, n in counts.items() if n > MAX_FILE_LINES]


def _says_why(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    above = lines[max(0, first - 1 - COMMENT_REACH) : first - 1]
    body_start = node.body[0].lineno
    if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
        body_start = (node.body[0].end_lineno or body_start) + 1  # after the docstring
    inside = lines[node.lineno : body_start - 1 + COMMENT_REACH]
    return any(line.strip().startswith("#") for line in above + inside)


def long_functions(source: str, name: str) -> list[str]:
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES and not _says_why(lines, node):
            found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_product_file_over_the_limit() -> None:
    assert long_files(product_sources()) == []


def test_no_long_function_without_a_comment_saying_why() -> None:
    found = []
    for path in product_sources():
        if path.suffix == ".py":
            found += long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


def _function(lines: int, comment: str | None, where: str) -> str:
    body = [f"    x{i} = {i}" for i in range(lines - 1)]
    if comment and where == "above":
        return f"{comment}\ndef f():\n" + "\n".join(body) + "\n"
    if comment and where == "inside":
        return "def f():\n" + f'    """Doc."""\n    {comment}\n' + "\n".join(body) + "\n"
    return "def f():\n" + "\n".join(body) + "\n"


@pytest.mark.parametrize(
    ("lines", "comment", "where", "flagged"),
    [
        (MAX_FUNCTION_LINES, None, "", False),
        (MAX_FUNCTION_LINES + 1, None, "", True),
        (MAX_FUNCTION_LINES + 5, "# Long: one table per meter.", "above", False),
        (MAX_FUNCTION_LINES + 5, "# Long: one table per meter.", "inside", False),
    ],
)
def test_the_function_check_counts_lines_and_reads_the_comment(
    lines: int, comment: str | None, where: str, flagged: bool
) -> None:
    assert bool(long_functions(_function(lines, comment, where), "f.py")) is flagged


def test_the_file_check_counts_lines(tmp_path: Path) -> None:
    just = tmp_path / "just.py"
    just.write_text("x = 1\n" * MAX_FILE_LINES)
    over = tmp_path / "over.py"
    over.write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    assert long_files([just, over], root=tmp_path) == [f"over.py: {MAX_FILE_LINES + 1}"]
