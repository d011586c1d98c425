"""The release a team pins is the same everywhere: the changelog's newest version (with its
date), pyproject.toml, the Lambda package's __version__, and the `?ref=` of every `source`
the README shows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import ws_bridge

ROOT = Path(__file__).resolve().parents[2]


def newest_release() -> tuple[str, str]:
    text = (ROOT / "CHANGELOG.md").read_text()
    match = re.search(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", text, re.MULTILINE)
    assert match, "CHANGELOG.md names no release as '## [x.y.z] - YYYY-MM-DD'"
    return match.group(1), match.group(2)


def test_the_changelog_keeps_an_unreleased_section_above_the_newest_release() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    version, _ = newest_release()
    assert text.index("## [Unreleased]") < text.index(f"## [{version}]")


def test_pyproject_and_the_package_carry_the_newest_release() -> None:
    version, _ = newest_release()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == version
    assert ws_bridge.__version__ == version


def test_every_source_in_the_readme_pins_the_newest_release() -> None:
    version, _ = newest_release()
    readme = (ROOT / "README.md").read_text()
    refs = re.findall(r'source\s*=\s*"git::[^"]*\?ref=([^"]+)"', readme)
    assert refs, "the README shows no git source"
    assert set(refs) == {f"v{version}"}, refs
