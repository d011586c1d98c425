"""The README's inputs and outputs tables say what variables.tf and outputs.tf say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_match_the_module() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "terraform_docs.py"), "--check", "README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
