"""`make bench-replay` itself: it reports nonces and memory, and fails when a request is
refused or memory keeps growing (checked here on a short run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import bench_replay


def test_a_steady_load_is_never_refused_and_memory_levels_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_replay.main(["--minutes", "3", "--rate", "20", "--window", "30"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    # About one window of nonces held once it is full (less the seconds of skew: each nonce
    # goes when its own timestamp leaves the window).
    assert all(20 * (30 - 7) <= int(row[1].replace(",", "")) <= 20 * 32 for row in rows)
    assert "refused: none" in out


def test_a_refused_request_fails_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    # A store that took every nonce for a replay: the bench must not pass.
    monkeypatch.setattr(bench_replay.MemoryReplayStore, "add", lambda *args, **kwargs: False)
    assert bench_replay.main(["--minutes", "1", "--rate", "2", "--window", "30"]) == 1
