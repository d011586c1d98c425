"""Documents name only what exists.

Every tracked text file (Markdown, Terraform, Python, shell, Dockerfiles, workflows) is read
for the names a reader would act on:

- ``python -m <module>``: the module is ours (under ``lambda/``, ``local/`` or an SDK's
  source folder) or importable from the development virtualenv;
- ``make <target>``: a target of the Makefile;
- a repository path (``docs/x.md``, ``local/wslocal/…``) in backticks or a Markdown link:
  it exists;
- a dotted name of our packages in backticks (``wslocal.stack``, ``ws_bridge.handler.connect``):
  a module, or a name defined in one.

And every command the README shows either runs in a test (its HCL block, its JavaScript) or is
one of these checked names, flags included: ``python -m <module> --flag`` and
``make <target> STACK_ARGS="--flag"`` name flags that ``--help`` lists.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUR_SOURCES = (ROOT / "lambda", ROOT / "local", *sorted(ROOT.glob("sdk/*/src")))
OUR_PACKAGES = ("ws_bridge", "wslocal", "ws_bridge_backend")
TEXT_SUFFIXES = {".md", ".tf", ".hcl", ".py", ".sh", ".yml", ".yaml", ".toml", ".js", ".ts"}
# History names what once was: the changelog is exempt; so is this file (its cases are stale
# on purpose).
EXEMPT = {"CHANGELOG.md", Path(__file__).name}
TOP_FOLDERS = (
    "lambda/", "local/", "tools/", "tests/", "docs/", "examples/", "modules/", "clients/",
    "sdk/", "packages/", "docker/", "requirements/", ".ci/", ".github/",
)  # fmt: skip

PYTHON_M = re.compile(r"python3?(?:\.\d+)? -m ([A-Za-z_][\w.]*\w)")
MAKE = re.compile(r"(?<![\w/.-])make ([a-z][a-z0-9-]*)\b")
# In shell, Makefiles and workflows: `make` as a command (line start, after && ; | or run:).
MAKE_COMMAND = re.compile(r"(?:^|&&|;|\|\||run:)\s*make ([a-z][a-z0-9-]*)\b", re.MULTILINE)
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)
# A repository file named anywhere, in any file (the folder, then a file with a suffix).
REPO_FILE = re.compile(
    r"(?<![\w./-])((?:lambda|local|tools|docs|examples|modules|clients|sdk|docker|\.ci)"
    r"/[\w./-]*\w\.(?:py|md|tf|js|ts|json|sh|txt|zip|png|toml|yml|yaml|hcl))(?![\w/-])"
)
BACKTICKED = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
DOTTED = re.compile(r"^(?:ws_bridge|wslocal|ws_bridge_backend)(?:\.[A-Za-z_]\w*)+$")


def tracked_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = [ROOT / name for name in listing.split("\0") if name]
    return [
        path
        for path in files
        if path.is_file()
        and path.name not in EXEMPT
        and (path.suffix in TEXT_SUFFIXES or path.name in ("Makefile", "Dockerfile", "run"))
    ]


@functools.cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([a-z][a-z0-9-]*)\s*:", text, flags=re.MULTILINE))


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for base in OUR_SOURCES:
        path = base.joinpath(*parts)
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


@functools.cache
def module_exists(name: str) -> bool:
    if name.split(".")[0] in OUR_PACKAGES:
        return _module_file(name) is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def dotted_name_exists(name: str) -> bool:
    """A module of ours, or a name a module of ours defines (def, class, assignment)."""
    if _module_file(name) is not None:
        return True
    parent, _, attribute = name.rpartition(".")
    source = _module_file(parent)
    if source is None:
        return dotted_name_exists(parent) if "." in parent else False
    text = source.read_text()
    pattern = rf"^\s*(?:async def|def|class)\s+{attribute}\b|^\s*{attribute}\s*[:=]"
    return re.search(pattern, text, flags=re.MULTILINE) is not None or (
        # A package re-exporting a name from one of its modules.
        source.name == "__init__.py" and re.search(rf"\b{attribute}\b", text) is not None
    )


def _is_repo_path(text: str) -> bool:
    return text.startswith(TOP_FOLDERS) and not re.search(r"[<>*{}…$ ]|\.\.\.", text)


@functools.cache
def _ignored(target: str) -> bool:
    """A file git ignores (build output, Terraform's lock file) is made by a run: naming it
    is fine whether or not it exists yet."""
    return subprocess.run(["git", "check-ignore", "-q", target], cwd=ROOT).returncode == 0


def _path_exists(base: Path, text: str) -> bool:
    target = text.split(":", 1)[0].rstrip("/.,")
    return (ROOT / target).exists() or (base / target).exists() or _ignored(target)


def findings(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    problems: list[str] = []
    for module in PYTHON_M.findall(text):
        if not module_exists(module):
            problems.append(f"python -m {module}: no such module")
    spans = BACKTICKED.findall(text) + FENCED.findall(text)
    commands = [target for span in spans for target in MAKE.findall(span)]
    if path.suffix in (".sh", ".yml", ".yaml") or path.name in ("Makefile", "run"):
        commands += MAKE_COMMAND.findall(text)
    for target in commands:
        if target not in make_targets():
            problems.append(f"make {target}: no such target")
    for named in sorted(set(REPO_FILE.findall(text))):
        if not _path_exists(path.parent, named):
            problems.append(f"{named}: no such file")
    if path.suffix == ".md":
        for link in LINK.findall(text):
            # A Markdown link resolves from the page's own folder, as a browser reads it.
            if not re.match(r"[a-z]+:", link) and not (path.parent / link).exists():
                problems.append(f"link {link}: no such file")
    if path.suffix in (".md", ".tf", ".py", ".sh"):
        for quoted in BACKTICKED.findall(text):
            if REPO_FILE.fullmatch(quoted):
                continue  # checked above, with every other file name
            if _is_repo_path(quoted) and not _path_exists(path.parent, quoted):
                problems.append(f"`{quoted}`: no such file")
            elif DOTTED.match(quoted) and not dotted_name_exists(quoted):
                problems.append(f"`{quoted}`: no such module or name")
    return problems


def test_every_document_names_what_exists() -> None:
    problems = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in tracked_files()
        for problem in findings(path)
    ]
    assert problems == [], "\n".join(problems)


def test_the_checks_catch_stale_names(tmp_path: Path) -> None:
    stale = tmp_path / "stale.md"
    stale.write_text(
        "Run `python -m wslocal.backend`, then `make no-such-target` (make a change); see\n"
        "[the guide](docs/no-such-page.md), `local/wslocal/backend.py` and\n"
        "`wslocal.stack.no_such_function`.\n"
    )
    assert findings(stale) == [
        "python -m wslocal.backend: no such module",
        "make no-such-target: no such target",
        "docs/no-such-page.md: no such file",
        "local/wslocal/backend.py: no such file",
        "link docs/no-such-page.md: no such file",
        "`wslocal.stack.no_such_function`: no such module or name",
    ]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("")
    fine = tmp_path / "fine.md"
    fine.write_text(
        "`python -m wslocal.stack`, `make test`, [design](docs/design.md), `docs/design.md`,\n"
        "`wslocal.stack.StackConfig`, `examples/<name>/main.tf`, `python -m pip`.\n"
    )
    assert findings(fine) == []


# ---------------------------------------------------------------------------- README commands


def readme_commands() -> list[str]:
    """The lines of the README's shell blocks, and its inline `make …`/`python -m …`."""
    readme = (ROOT / "README.md").read_text()
    commands: list[str] = []
    for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", readme, flags=re.DOTALL):
        for line in block.splitlines():
            line = re.split(r"\s#", line, maxsplit=1)[0].strip()  # a comment, not a URL's #
            if line:
                commands.append(line)
    for quoted in BACKTICKED.findall(readme):
        if quoted.startswith(("make ", "python -m ")):
            commands.append(quoted)
    return commands


@functools.cache
def help_text(module: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"python -m {module} --help failed: {result.stderr}"
    return result.stdout


STACK_MODULE = "wslocal.stack"


def test_every_readme_command_names_real_targets_modules_and_flags() -> None:
    problems: list[str] = []
    for command in readme_commands():
        words = command.split()
        if words[0] == "make":
            targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
            problems += [f"{command}: no target {t}" for t in targets if t not in make_targets()]
            flags = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command)
            if flags and "stack" in targets:
                helptext = help_text(STACK_MODULE)
                missing = [flag for flag in flags if flag not in helptext]
                problems += [f"{command}: {STACK_MODULE} has no {flag}" for flag in missing]
        elif words[:2] == ["python", "-m"]:
            module = words[2]
            if not module_exists(module):
                problems.append(f"{command}: no module {module}")
                continue
            flags = [w.split("=")[0] for w in words[3:] if w.startswith("--")]
            helptext = help_text(module) if flags else ""
            problems += [f"{command}: {module} has no {f}" for f in flags if f not in helptext]
        elif words[:2] == ["pip", "install"]:
            # Run as written (against this checkout) by tests/sdk/test_install.py.
            sub = re.search(r"#subdirectory=([\w/]+)", command)
            if sub is None or not (ROOT / sub.group(1) / "pyproject.toml").is_file():
                problems.append(f"{command}: not a package of this repository")
        elif words[0] not in ("terraform", "cd", "export"):
            problems.append(f"{command}: not a command this test knows how to check")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("limit", [350])
def test_the_readme_stays_short(limit: int) -> None:
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines < limit, f"README.md has {lines} lines: move detail to docs/ and link it"
