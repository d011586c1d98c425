"""The suite collects as one: pytest imports each test file by its base name (the folders
have no __init__.py), so two files of the same name in different folders collide ("import
file mismatch") and one of them never runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_two_test_files_share_a_name() -> None:
    names = Counter(path.name for path in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
