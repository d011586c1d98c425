"""Check that every `expect_failures` run of tests/terraform trips exactly one rule.

A run that expects a failure passes as long as *some* rule of the named object fails, so a
run whose inputs break two rules keeps passing when the rule it is about is deleted. This
copies the module to a scratch directory, turns each such run into a file of its own without
its `expect_failures`, runs `terraform test` there and counts the errors each run prints:
exactly one is right (which also means each plan-time message is printed once).

    python tools/check_expect_failures.py      # exit 1 and name the runs that trip 0 or 2+
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path("tests/terraform")
RUN = re.compile(r'^run "([^"]+)" \{', re.MULTILINE)
EXPECT = re.compile(r"^\s*expect_failures\s*=.*$", re.MULTILINE)


def runs(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of every top-level run block of a .tftest.hcl file."""
    found: list[tuple[str, int, int]] = []
    position = 0
    while match := RUN.search(text, position):
        depth, index = 0, match.end() - 1
        while True:
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        found.append((match.group(1), match.start(), index + 1))
        position = index + 1
    return found


def split(source: Path, target: Path) -> list[str]:
    """One file per expect_failures run (the file's header, then that run without it)."""
    names: list[str] = []
    for path in sorted(source.glob("*.tftest.hcl")):
        text = path.read_text(encoding="utf-8")
        blocks = runs(text)
        if not blocks:
            continue
        header = text[: blocks[0][1]]
        for name, start, end in blocks:
            body = text[start:end]
            if not EXPECT.search(body):
                continue
            stem = f"{path.name.removesuffix('.tftest.hcl')}__{name}"
            (target / f"{stem}.tftest.hcl").write_text(header + EXPECT.sub("", body) + "\n")
            names.append(stem)
    return names


def main() -> int:
    terraform = os.environ.get("TERRAFORM", "terraform")
    mirror = os.environ.get("TF_PROVIDER_MIRROR", "")
    with tempfile.TemporaryDirectory(prefix="expect-failures-") as scratch:
        work = Path(scratch)
        for item in ROOT.glob("*.tf"):
            shutil.copy2(item, work)
        shutil.copytree(ROOT / "modules", work / "modules")
        shutil.copytree(ROOT / "packages", work / "packages")
        shutil.copytree(ROOT / TESTS, work / TESTS)
        for path in (work / TESTS).glob("*.tftest.hcl"):
            path.unlink()
        names = split(ROOT / TESTS, work / TESTS)
        init = [terraform, "init", "-backend=false", "-input=false", f"-test-directory={TESTS}"]
        if mirror:
            init.append(f"-plugin-dir={mirror}")
        subprocess.run(init, cwd=work, check=True, capture_output=True)  # noqa: S603
        result = subprocess.run(  # noqa: S603 - terraform with fixed arguments
            [terraform, "test", f"-test-directory={TESTS}", "-no-color"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream: each error after the file it belongs to
            text=True,
            check=False,
        )
    output = result.stdout
    sections = re.split(
        r"^tests/terraform/(\S+)\.tftest\.hcl\.\.\. in progress$", output, flags=re.M
    )
    errors = {sections[i]: sections[i + 1].count("Error: ") for i in range(1, len(sections), 2)}
    bad = {name: errors.get(name, 0) for name in names if errors.get(name, 0) != 1}
    for name, count in sorted(bad.items()):
        print(f"{name}: {count} errors (want exactly 1)", file=sys.stderr)
    if bad:
        print(output[-4000:], file=sys.stderr)
        return 1
    print(f"{len(names)} expect_failures runs, each trips exactly one rule")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
