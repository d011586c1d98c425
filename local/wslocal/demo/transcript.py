"""The demo's transcript: numbered steps on stdout, each with its details and outcome."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Final, TextIO

__all__ = ["INDENT", "Transcript"]

INDENT: Final = " " * 8


class Transcript:
    """Numbered steps on stdout: ``[ n/13] Title``, indented details, then ``ok`` or
    ``FAILED``, each with the step's duration."""

    def __init__(self, steps: Sequence[str], out: TextIO | None = None) -> None:
        self.steps = tuple(steps)
        self.out = out
        self.number = 0
        self.open = False
        self._started = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def begin(self, index: int) -> None:
        """Start step `index` (1-based, in `steps`)."""
        if self.open:
            raise RuntimeError(f"step {self.number} is still open")
        self.number = index
        self.open = True
        self._started = time.monotonic()
        self._print(f"[{index:>2}/{len(self.steps)}] {self.steps[index - 1]}")

    def note(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._print(f"{INDENT}{line}")

    def ok(self, summary: str = "") -> None:
        elapsed = time.monotonic() - self._started
        self.open = False
        self._print(f"{INDENT}ok ({elapsed:.1f} s){': ' + summary if summary else ''}")

    def fail(self, reason: str) -> None:
        self.open = False
        lines = reason.strip().splitlines() or ["(no detail)"]
        self._print(f"{INDENT}FAILED: {lines[0]}")
        for line in lines[1:]:
            self._print(f"{INDENT}  {line}")

    def say(self, text: str) -> None:
        self._print(text)
