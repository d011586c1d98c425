"""One acceptance run per pytest session: `deployment` applies examples/acceptance to the
target the environment names (harness.target_from_environment) and tears it down at the
end, whatever happened, failing the session when anything is left (docs/acceptance.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import Deployment, deploy
from harness import target_from_environment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    target = target_from_environment()
    kept = os.environ.get("ACCEPTANCE_DIR")
    workdir = Path(kept) if kept else tmp_path_factory.mktemp("acceptance")
    workdir.mkdir(parents=True, exist_ok=True)
    started: list[Deployment] = []
    try:
        yield deploy(target, workdir, started.append)
    finally:
        if started:
            left = started[0].teardown()
            assert not left, f"the run left resources on {target.label}: {left}"
