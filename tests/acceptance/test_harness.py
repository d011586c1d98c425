"""The harness never points at a real account without the explicit opt-in and what a real
run needs; and its cleanup command finds a run's state (no deployment here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import AcceptanceError, main, target_from_environment


def test_without_the_opt_in_the_target_is_the_local_emulator() -> None:
    target = target_from_environment(
        {"AWS_REGION": "eu-west-1", "ACCEPTANCE_BACKEND_URL": "https://b"}
    )
    assert not target.real


def test_a_real_run_needs_a_reachable_backend_and_no_endpoint_override() -> None:
    with pytest.raises(AcceptanceError, match="ACCEPTANCE_BACKEND_URL"):
        target_from_environment({"ACCEPTANCE_REAL_AWS": "1"})
    with pytest.raises(AcceptanceError, match="ACCEPTANCE_BACKEND_URL"):
        target_from_environment({"ACCEPTANCE_REAL_AWS": "1", "ACCEPTANCE_BACKEND_URL": "http://x"})
    with pytest.raises(AcceptanceError, match="AWS_ENDPOINT_URL"):
        target_from_environment(
            {
                "ACCEPTANCE_REAL_AWS": "1",
                "ACCEPTANCE_BACKEND_URL": "https://backend.example.com",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            }
        )
    target = target_from_environment(
        {
            "ACCEPTANCE_REAL_AWS": "1",
            "ACCEPTANCE_BACKEND_URL": "https://backend.example.com/",
            "AWS_REGION": "eu-west-1",
            "ACCEPTANCE_SESSIONS": "s1:u1,s2:u2",
        }
    )
    assert (target.real, target.region, target.backend_url) == (
        True,
        "eu-west-1",
        "https://backend.example.com",
    )
    assert target.sessions == ("s1:u1", "s2:u2")


def test_the_cleanup_command_finds_nothing_where_no_run_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--workdir", str(tmp_path)]) == 0
    assert "nothing to destroy" in capsys.readouterr().out
