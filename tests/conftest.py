"""How `make test` spreads the suite over pytest-xdist workers (`-n 3 --dist loadfile`).

Each test file is one unit of work, so its module-scoped fixture (a local stack of its own,
~30 s) starts once; the files that use the session-wide `stack` of tests/integration are one
unit together, so that stack starts once too. The files that take longest, mostly waiting
on Terraform and on the AWS provider's fixed polling delays, are handed out first, so the
workers finish together instead of one waiting minutes for the others.

Without xdist (`pytest tests/unit`, the urllib3 1.x virtualenv, `-n 0`) nothing changes.
(`--dist loadgroup` with `xdist_group` marks would say the same, but pytest-xdist 3.8 cannot
rename pytest 9.2's node ids, so its groups have no effect: every test is scheduled alone.)
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

INTEGRATION = "tests/integration/"
# The files that use the session-wide `stack` fixture: one unit of work, one stack. A new
# file that uses it and is not listed here still passes; its worker starts a stack of its own.
SHARED_STACK_FILES = frozenset(
    f"{INTEGRATION}{name}.py"
    for name in ("test_stack", "test_faults", "test_hostile", "test_signing")
)
SHARED_STACK_UNIT = f"{INTEGRATION}test_stack.py"
# Units of work, longest first (seconds measured on 2 cores, serially). The others follow in
# collection order, the rest of the integration and browser tests before the fast folders.
SLOWEST_FIRST = (
    "tests/acceptance/test_acceptance.py",  # 180: examples/acceptance applied and destroyed
    f"{INTEGRATION}test_system_parts.py",  # 185: the provider's waiters (ElastiCache, Route 53)
    SHARED_STACK_UNIT,  # about 150 for the four files
    f"{INTEGRATION}test_session_drops.py",  # 80: 100 forced drops, then rollovers
    f"{INTEGRATION}test_demo.py",  # 95: three demo runs
    f"{INTEGRATION}test_rs256.py",  # 80: waits out PyJWT's 30 s JWKS cooldown twice
    f"{INTEGRATION}test_gateway.py",
    f"{INTEGRATION}test_readme_snippet.py",
    f"{INTEGRATION}test_session_store.py",
    f"{INTEGRATION}test_enforcement_keys.py",  # 140: gateway restarts, one per case
    f"{INTEGRATION}test_example_backend.py",  # 60: its own stack, Redis, two key rotations
    f"{INTEGRATION}test_sessions.py",  # 45: its own stack with Redis
    f"{INTEGRATION}test_enforcement.py",
    f"{INTEGRATION}test_emulator.py",
    f"{INTEGRATION}test_stack_cli.py",
    "tests/browser/test_browser_client.py",
    "tests/browser/test_browser_stack_sessions.py",  # 90: its own stack, 100 drops in Chromium
)
SLOW_FOLDERS = ("tests/acceptance", "tests/integration", "tests/browser")


def unit_of_work(nodeid: str) -> str:
    """The file a test belongs to, or the shared stack's unit for the files that share it."""
    path = nodeid.split("::", 1)[0]
    return SHARED_STACK_UNIT if path in SHARED_STACK_FILES else path


def _rank(nodeid: str) -> tuple[int, int]:
    unit = unit_of_work(nodeid)
    if unit in SLOWEST_FIRST:
        return (0, SLOWEST_FIRST.index(unit))
    return (1, 0) if str(PurePosixPath(unit).parent) in SLOW_FOLDERS else (2, 0)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the slowest units first (the controller hands units out in the
    order the workers collected them). A stable sort, so each file keeps its own order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; the urllib3 1.x venv has no xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the shared stack's files as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedStackScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    config.option.loadscopereorder = False  # keep the order above, not the largest first
    return SharedStackScheduling(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """No test skips quietly: a skip (``pytest.skip``, ``importorskip``, a ``skipif`` that
    holds) fails the run with its reason. A test that needs something fails and says how to
    get it; `make test` installs what it can first (tools/system-deps.sh)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and no test may skip: {reason}"
