"""Apply examples/acceptance to a target, run what the target needs beside it, destroy it,
and find what a run left behind (docs/acceptance.md).

Two targets, chosen by the environment:

- local (the default): the emulator on a free port (`python -m wslocal.emulator`), fake
  credentials; after apply, the reference backend and the local gateway run the deployment.
- a real account: `ACCEPTANCE_REAL_AWS=1`, `ACCEPTANCE_BACKEND_URL` (a backend the team
  runs, reachable from Lambda) and credentials in the environment (in CI, from OIDC).
  Without the opt-in the harness never runs Terraform anywhere but 127.0.0.1.

Cleanup is guaranteed three ways: the pytest fixture destroys in a `finally` (Ctrl-C and
SIGTERM included, which pytest turns into an exception), `destroy` retries, and the
working directory (Terraform's state) lives under `ACCEPTANCE_DIR` when set, so that a
later step (`make acceptance-destroy`, CI's `if: always()` step) destroys what a killed run
left: `python tests/acceptance/harness.py destroy --workdir DIR`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wslocal.stack import REPO_ROOT, provider_mirror

__all__ = ["Run", "Target", "target_from_environment"]

EXAMPLE = REPO_ROOT / "examples" / "acceptance"
# What the example's `source = "../../"` reaches, linked beside the copy: every .tf file of
# the root module, whatever the layout (a fixed list broke when variables.tf was split), and
# the folders it reads.
ROOT_DIRECTORIES = ("modules", "packages")
APPLY_SECONDS = 45 * 60.0  # a real ElastiCache replication group takes 10 to 20 minutes
DESTROY_ATTEMPTS = 3


class AcceptanceError(RuntimeError):
    """A step of the run failed; the message says which."""


@dataclass(frozen=True)
class Target:
    real: bool
    region: str
    backend_url: str | None = None  # the team's backend (real runs)
    sessions: tuple[str, ...] = ("lab-1:alice", "lab-1:bob")

    @property
    def label(self) -> str:
        return "a real AWS account" if self.real else "the local emulator"


def target_from_environment(env: Mapping[str, str] | None = None) -> Target:
    """The target the environment asks for; AcceptanceError when it asks for a real account
    without everything a real run needs."""
    env = os.environ if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    if env.get("ACCEPTANCE_REAL_AWS") != "1":
        return Target(real=False, region="us-east-1")
    backend = env.get("ACCEPTANCE_BACKEND_URL", "").strip()
    if not backend.startswith("https://"):
        raise AcceptanceError(
            "ACCEPTANCE_REAL_AWS=1 needs ACCEPTANCE_BACKEND_URL: the https:// URL of a backend "
            "Lambda can reach (docs/acceptance.md)"
        )
    if env.get("AWS_ENDPOINT_URL"):
        raise AcceptanceError("ACCEPTANCE_REAL_AWS=1 with AWS_ENDPOINT_URL set: unset one of them")
    sessions = tuple(s for s in env.get("ACCEPTANCE_SESSIONS", "lab-1:alice").split(",") if s)
    return Target(real=True, region=region, backend_url=backend.rstrip("/"), sessions=sessions)


def prepare(workdir: Path) -> Path:
    """examples/acceptance copied under `workdir`, the root module linked beside it."""
    copy = workdir / "examples" / "acceptance"
    if not copy.exists():
        entries = [p.name for p in sorted(REPO_ROOT.glob("*.tf"))] + list(ROOT_DIRECTORIES)
        for entry in entries:
            (workdir / entry).symlink_to(REPO_ROOT / entry)
        shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return copy


@dataclass
class Run:
    """One run: its name, its copy of the example and the environment Terraform runs in."""

    name: str
    workdir: Path
    env: dict[str, str]
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory = prepare(self.workdir)
        self.log = self.workdir / "terraform.log"

    @staticmethod
    def new_name() -> str:
        return f"acc-{secrets.token_hex(4)}"

    def terraform(self, *args: str, timeout: float = 600.0) -> str:
        """`terraform <args>` in the copy; its output appended to terraform.log."""
        started = time.monotonic()
        try:
            done = subprocess.run(
                ["terraform", *args, "-no-color"],
                cwd=self.directory,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as late:
            raise AcceptanceError(
                f"terraform {args[0]} still running after {timeout:.0f} s"
            ) from late
        with self.log.open("a") as log:
            log.write(f"$ terraform {' '.join(args)} ({time.monotonic() - started:.1f} s)\n")
            log.write(done.stdout + done.stderr + "\n")
        if done.returncode != 0:
            raise AcceptanceError(f"terraform {args[0]} failed:\n{done.stderr[-4000:]}")
        return done.stdout

    def init(self) -> None:
        args = ["init", "-backend=false", "-input=false"]
        mirror = provider_mirror()
        if mirror:
            args.append(f"-plugin-dir={mirror}")
        self.terraform(*args)

    def apply(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        (self.directory / "terraform.tfvars.json").write_text(json.dumps(dict(variables), indent=2))
        self.terraform("apply", "-auto-approve", "-input=false", timeout=APPLY_SECONDS)
        raw = json.loads(self.terraform("output", "-json"))
        return {name: output["value"] for name, output in raw.items()}

    def destroy(self) -> None:
        """`terraform destroy`, tried again when it fails (a dependency AWS still holds)."""
        for attempt in range(1, DESTROY_ATTEMPTS + 1):
            try:
                self.terraform("destroy", "-auto-approve", "-input=false", timeout=APPLY_SECONDS)
                return
            except AcceptanceError:
                if attempt == DESTROY_ATTEMPTS:
                    raise
                time.sleep(10 * attempt)

    def state_is_empty(self) -> bool:
        state = self.directory / "terraform.tfstate"
        if not state.exists():
            return True
        return not json.loads(state.read_text() or "{}").get("resources")


def main(argv: list[str] | None = None) -> int:
    """`destroy --workdir DIR`: destroy what a run kept in DIR (after a killed run)."""
    parser = argparse.ArgumentParser(prog="python tests/acceptance/harness.py")
    parser.add_argument("command", choices=["destroy"])
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    copy = args.workdir / "examples" / "acceptance"
    if not (copy / "terraform.tfvars.json").exists():
        print(f"nothing to destroy in {args.workdir}", flush=True)
        return 0
    name = json.loads((copy / "terraform.tfvars.json").read_text())["name"]
    run = Run(name, args.workdir, dict(os.environ))
    if run.state_is_empty():
        print(f"the acceptance run {name} left nothing to destroy", flush=True)
        return 0
    run.init()
    run.destroy()
    print(f"destroyed the acceptance run {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
