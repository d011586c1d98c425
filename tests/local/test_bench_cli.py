"""`python -m wslocal.bench` without its stack: the package runs as a module, the open-file
limit is raised before 2,000 connections are opened (or the run is refused, not started),
and a run's table accounts for every message. The load itself is `make bench`."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections import Counter

import pytest

from wslocal.bench import cli
from wslocal.bench.report import OpenResult, PhaseResult, Report, render


def test_the_package_runs_as_a_module_with_2000_connections_by_default() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wslocal.bench", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "--connections" in out
    assert cli.parse_args([]).connections == 2000


def test_the_open_file_limit_is_raised_to_the_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"soft": 1024, "hard": 8192}
    monkeypatch.setattr(resource, "getrlimit", lambda _: (limits["soft"], limits["hard"]))

    def setrlimit(_: int, value: tuple[int, int]) -> None:
        limits["soft"] = value[0]

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    assert cli.raise_descriptor_limit(2000) is None
    assert limits["soft"] == 8192


def test_a_run_that_cannot_fit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1024))
    reason = cli.raise_descriptor_limit(2000)
    assert reason is not None
    assert "open files" in reason
    assert cli.main(["--connections", "2000"]) == cli.EXIT_NO_STACK


def test_the_table_counts_what_was_lost_and_fails_the_run() -> None:
    report = Report(2, 1, 1, opened=OpenResult([], Counter(), 1.0), stored=2, left=0)
    report.phases.append(PhaseResult("command (backend)", expected=2, exactly_once=1, lost=1))
    text = render(report, 3.0)
    assert "result: FAILED" in text
    assert not report.ok
