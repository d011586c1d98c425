"""`Stack.close`: the working directory (logs, state) goes, unless a step of the close
failed; then it stays, and the error says where. A Terraform run stopped at its timeout
says what it was still waiting for."""

from __future__ import annotations

from pathlib import Path

import pytest

from wslocal.stack import Stack, StackConfig
from wslocal.stack.config import StackError
from wslocal.stack.terraform import Terraform


class _Process:
    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def stop(self, timeout: float) -> None:
        if self.fails:
            raise RuntimeError("would not stop")


def _stack(tmp_path: Path, *, fails: bool) -> tuple[Stack, Path]:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "terraform.log").write_text("what happened\n")
    stack = Stack(StackConfig())
    stack.workdir = workdir
    stack.services["backend"] = _Process(fails)  # type: ignore[assignment]
    return stack, workdir


def test_a_clean_close_removes_the_working_directory(tmp_path: Path) -> None:
    stack, workdir = _stack(tmp_path, fails=False)
    stack.close()
    assert not workdir.exists()


def test_a_failed_close_keeps_the_logs_and_names_them(tmp_path: Path) -> None:
    stack, workdir = _stack(tmp_path, fails=True)
    with pytest.raises(RuntimeError, match="would not stop") as caught:
        stack.close()
    assert (workdir / "terraform.log").read_text() == "what happened\n"
    assert f"the stack's logs and state are kept in {workdir}" in caught.value.__notes__


def test_a_terraform_run_past_its_timeout_says_what_it_was_waiting_for(tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "aws_iam_role.handler: Destroying... [id=ws-local-handler]"\n'
        'echo "aws_iam_role.handler: Still destroying... [id=ws-local-handler, 10s elapsed]"\n'
        "exec sleep 60\n"
    )
    fake.chmod(0o755)
    log = tmp_path / "terraform.log"
    runner = Terraform(str(fake), tmp_path, tmp_path, dict, log, stop_timeout=2.0)
    with pytest.raises(StackError, match="did not finish in 1 s") as caught:
        runner.run("destroy", "-auto-approve", timeout=1.0)
    assert "Still destroying... [id=ws-local-handler, 10s elapsed]" in str(caught.value)
    assert "Still destroying" in log.read_text()
