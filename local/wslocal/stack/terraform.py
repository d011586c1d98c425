"""Terraform for the local stack: examples/local applied where it is, as a user applies it
(its ``source = "../../"`` is the root module, whatever files the root holds), with this
stack's own data directory (``TF_DATA_DIR``), state and variables file in the stack's
working directory, and bounded waits; every run's output is appended to ``terraform.log``.

The one file ``terraform init`` writes next to the configuration is its dependency lock
file, ``examples/local/.terraform.lock.hcl`` (git ignores it), as any ``terraform init``
there does."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wslocal.stack.config import StackError
from wslocal.stack.processes import kill_group, preexec, tail

__all__ = ["Terraform", "declared_variables", "write_tfvars"]

_VARIABLE = re.compile(r'^variable\s+"([A-Za-z_][\w-]*)"', re.MULTILINE)
# The commands that read the state and the variables: the stack's own are passed to them.
_STATE_AND_VARIABLES = frozenset({"apply", "console", "destroy", "import", "plan", "refresh"})
_STATE_ONLY = frozenset({"output"})


def declared_variables(example: Path) -> frozenset[str]:
    """The names of the variables the configuration in `example` declares."""
    names: set[str] = set()
    for path in sorted(example.glob("*.tf")):
        names.update(_VARIABLE.findall(path.read_text()))
    return frozenset(names)


def write_tfvars(path: Path, variables: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(dict(variables), indent=2) + "\n")
    return path


class Terraform:
    """``terraform`` in the configuration `directory`, its data directory, state and
    variables file under `workdir`, with the environment `env` builds for each run."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        workdir: Path,
        env: Callable[[], Mapping[str, str]],
        log: Path,
        stop_timeout: float,
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.data_dir = workdir / "terraform-data"
        self.state = workdir / "terraform.tfstate"
        self.var_file = workdir / "terraform.tfvars.json"
        self._env = env
        self.log = log
        self._stop_timeout = stop_timeout

    def _argv(self, args: Sequence[str]) -> list[str]:
        """`terraform <args>` with the stack's state (and variables) for the commands that
        read them."""
        argv = [self.binary, *args]
        if args and args[0] in _STATE_AND_VARIABLES | _STATE_ONLY:
            argv.insert(2, f"-state={self.state}")
        if args and args[0] in _STATE_AND_VARIABLES and self.var_file.exists():
            argv.insert(2, f"-var-file={self.var_file}")
        return argv

    def run(
        self, *args: str, timeout: float, check: bool = True, ok_codes: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>` (the state and variables flags added, see `_argv`); its
        output goes to the log too."""
        argv = self._argv(args)
        env = dict(self._env())
        env["TF_DATA_DIR"] = str(self.data_dir)
        with subprocess.Popen(  # noqa: S603 - terraform with our arguments, no shell
            argv,
            cwd=self.directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=preexec(),
        ) as process:
            try:
                output, errors = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(process, self._stop_timeout)
                # What it printed names the resources it was still waiting for.
                try:
                    output, errors = process.communicate(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    output, errors = "", ""
                with self.log.open("a") as log:
                    log.write(f"$ {' '.join(argv)} (stopped after {timeout:.0f} s)\n")
                    log.write(f"{output}{errors}\n")
                raise StackError(
                    f"`terraform {args[0]}` did not finish in {timeout:.0f} s; it printed last:\n"
                    f"{tail(output + errors, 15)}"
                ) from None
            except BaseException:
                kill_group(process, self._stop_timeout)
                raise
        with self.log.open("a") as log:
            log.write(f"$ {' '.join(argv)}\n{output}{errors}\n")
        result = subprocess.CompletedProcess(argv, process.returncode, output, errors)
        if check and result.returncode not in ok_codes:
            raise StackError(
                f"`terraform {' '.join(args)}` exited with {result.returncode}:\n"
                f"{tail(errors or output, 60)}"
            )
        return result

    def init(self, plugin_dir: str | None, timeout: float) -> None:
        args = ["init", "-backend=false", "-input=false", "-no-color"]
        if plugin_dir and Path(plugin_dir).is_dir():
            args.append(f"-plugin-dir={plugin_dir}")
        self.run(*args, timeout=timeout)

    def apply(self, timeout: float) -> float:
        """Apply; returns the seconds it took."""
        started = time.monotonic()
        self.run("apply", "-auto-approve", "-input=false", "-no-color", timeout=timeout)
        return time.monotonic() - started

    def plan_changes(self, timeout: float) -> tuple[bool, str]:
        """`terraform plan -detailed-exitcode`: (whether it plans changes, its output)."""
        result = self.run(
            "plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false",
            timeout=timeout, ok_codes=(0, 2),
        )  # fmt: skip
        return result.returncode == 2, result.stdout

    def destroy(self, timeout: float) -> None:
        self.run("destroy", "-auto-approve", "-input=false", "-no-color", timeout=timeout)

    def outputs(self) -> dict[str, Any]:
        result = self.run("output", "-json", "-no-color", timeout=60)
        raw: dict[str, Any] = json.loads(result.stdout)
        return raw
