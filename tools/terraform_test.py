"""`terraform test` of tests/terraform, with each `expect_failures` run held to the one rule
it names (what `make tf-test` runs).

A run that expects a failure passes as long as *some* rule of the named object fails, so a
run whose inputs break two rules keeps passing when the rule it is about is deleted, and a
run whose input trips another object's rule passes too. So this copies the module to a
scratch directory, where each test file keeps its other runs and each `expect_failures` run
becomes a file of its own without its `expect_failures` (the file's header, then that run).
One `terraform test` there plans every run once:

- every other run must pass, as in a plain `terraform test`;
- every `expect_failures` run must fail with exactly one error (which also means each
  plan-time message is printed once), and that error must be about the object it names:
  `Invalid value for variable` showing `var.<name>`, or a condition `in resource "<type>"
  "<name>"`.

    python tools/terraform_test.py      # exit 1 and name the runs that break either rule

`terraform test -test-directory=tests/terraform` on the files as they are still works; it
only cannot tell the error a run trips from another.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path("tests/terraform")
RUN = re.compile(r'^run "([^"]+)" \{', re.MULTILINE)
EXPECT = re.compile(r"^\s*expect_failures\s*=\s*\[([^\]]*)\]\s*$", re.MULTILINE)
FILE_START = re.compile(r"^tests/terraform/(\S+)\.tftest\.hcl\.\.\. in progress$", re.MULTILINE)
RUN_RESULT = re.compile(r'^  run "([^"]+)"\.\.\. (\w+)$', re.MULTILINE)
SEPARATOR = "__"
# What `terraform init` and applies leave in a folder: not copied.
LOCAL_STATE = shutil.ignore_patterns(".terraform", "terraform.tfstate*", "__pycache__")


@dataclass(frozen=True)
class Expected:
    """An `expect_failures` run, in the file of its own named `stem`."""

    stem: str
    objects: tuple[str, ...]  # as written: var.name, aws_apigatewayv2_stage.this


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


def split(source: Path, target: Path) -> list[Expected]:
    """Write each test file of `source` to `target` without its expect_failures runs, and each
    of those runs to a file of its own (the file's header, then the run without them)."""
    expected: list[Expected] = []
    for path in sorted(source.glob("*.tftest.hcl")):
        text = path.read_text(encoding="utf-8")
        stem = path.name.removesuffix(".tftest.hcl")
        if SEPARATOR in stem:
            raise SystemExit(f"{path}: a test file's name may not contain {SEPARATOR!r}")
        blocks = runs(text)
        header = text[: blocks[0][1]] if blocks else text
        rest = text
        for name, start, end in reversed(blocks):
            body = text[start:end]
            match = EXPECT.search(body)
            if match is None:
                continue
            objects = tuple(item.strip() for item in match.group(1).split(",") if item.strip())
            own = f"{stem}{SEPARATOR}{name}"
            (target / f"{own}.tftest.hcl").write_text(header + EXPECT.sub("", body) + "\n")
            expected.append(Expected(own, objects))
            rest = rest[:start] + rest[end:]
        if any(not EXPECT.search(text[start:end]) for _, start, end in blocks):
            (target / path.name).write_text(rest)
    return sorted(expected, key=lambda item: item.stem)


def about(error: str, name: str) -> bool:
    """Whether one printed error is about the object `name` of an expect_failures list."""
    if name.startswith("var."):
        variable = re.escape(name)
        return error.startswith("Invalid value for variable") and bool(
            re.search(rf"│ {variable}(\.| is )", error)
        )
    kind, _, label = name.rpartition(".")
    return f'in resource "{kind}" "{label}"' in error


def sections(output: str) -> dict[str, str]:
    """What `terraform test` printed for each test file, by the file's stem."""
    parts = FILE_START.split(output)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def problems(output: str, expected: list[Expected]) -> list[str]:
    printed = sections(output)
    found: list[str] = []
    expecting = {item.stem: item for item in expected}
    for stem, text in sorted(printed.items()):
        if stem in expecting:
            continue
        failed = [name for name, result in RUN_RESULT.findall(text) if result != "pass"]
        if failed or "Error: " in text:
            found.append(f"{stem}: runs {failed or '(setup)'} did not pass")
    for item in expected:
        own = printed.get(item.stem)
        if own is None:
            found.append(f"{item.stem}: not run")
            continue
        errors = own.split("Error: ")[1:]
        if len(errors) != 1:
            found.append(f"{item.stem}: {len(errors)} errors (want exactly 1)")
        elif not any(about(errors[0], name) for name in item.objects):
            title = errors[0].splitlines()[0]
            found.append(f"{item.stem}: its error ({title}) is not about {', '.join(item.objects)}")
    return found


def main() -> int:
    terraform = os.environ.get("TERRAFORM", "terraform")
    mirror = os.environ.get("TF_PROVIDER_MIRROR", "")
    with tempfile.TemporaryDirectory(prefix="terraform-test-") as scratch:
        work = Path(scratch)
        for item in ROOT.glob("*.tf"):
            shutil.copy2(item, work)
        for folder in ("modules", "packages", "examples", "contract"):  # what the runs read
            shutil.copytree(ROOT / folder, work / folder, ignore=LOCAL_STATE)
        shutil.copytree(ROOT / TESTS, work / TESTS)
        for path in (work / TESTS).glob("*.tftest.hcl"):
            path.unlink()
        expected = split(ROOT / TESTS, work / TESTS)
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
    found = problems(output, expected)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(output[-6000:], file=sys.stderr)
        return 1
    passed = len(RUN_RESULT.findall(output)) - len(expected)
    print(
        f"terraform test: {passed} runs passed; {len(expected)} expect_failures runs, "
        "each failing on exactly the one rule it names"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
