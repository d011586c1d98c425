"""Signals of the long-running commands (the stack, the demo): SIGTERM unwinds like Ctrl-C so
that teardown runs either way, and during teardown both only ask for patience."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["interrupt", "patient_signals", "unwind_on_signals"]


def interrupt(signum: int, frame: FrameType | None) -> None:
    """A signal handler that raises ``KeyboardInterrupt`` (the stack's ``with`` unwinds)."""
    raise KeyboardInterrupt(f"signal {signum}")


def unwind_on_signals() -> None:
    """SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C; SIGINT too, even when it was
    inherited as ignored (a background job)."""
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


@contextmanager
def patient_signals(say: Callable[[], None]) -> Iterator[None]:
    """While tearing down, Ctrl-C and SIGTERM only call `say` (every wait is bounded)."""

    def patience(signum: int, frame: FrameType | None) -> None:
        say()

    previous = {s: signal.signal(s, patience) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
