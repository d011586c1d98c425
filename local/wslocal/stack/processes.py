"""Child processes of the stack: each in its own process group, its output in a log file,
terminated then killed after a bounded wait, and sent SIGTERM if the stack itself dies."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from wslocal.stack.config import StackError
from wslocal.stack.ports import port_accepts

__all__ = ["READY_LINE", "ManagedProcess", "kill_group", "preexec", "tail"]

READY_LINE = re.compile(r"\bready\b.*?\b(?:https?|wss?)://(?P<host>[\w.-]+):(?P<port>\d+)")


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded here, not in the child: between fork and exec the child only calls prctl.
_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the parent dies (Linux)."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def preexec() -> Callable[[], None] | None:
    """The ``preexec_fn`` of every child: die with this process where the OS allows it."""
    return _die_with_parent if _LIBC is not None else None


def kill_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM the process group of `process`, wait up to `timeout`, then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # The leader may be gone while children of its group remain.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """A long-running child in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(  # noqa: S603 - our argv
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
                preexec_fn=preexec(),
            )
        except BaseException:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return tail(text, lines)

    def wait_ready(self, port: int, timeout: float) -> int:
        """Wait for a ready line (whose port is returned) or for `port` to accept."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                match = READY_LINE.search(self.log_path.read_text(errors="replace"))
                if match:
                    return int(match.group("port"))
            if port and port_accepts(port):
                return port
            if not self.running():
                raise StackError(
                    f"{self.name} exited with status {self.process.returncode} before it was "
                    f"ready; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise StackError(
            f"{self.name} was not ready after {timeout:.0f} s; log {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float) -> None:
        try:
            kill_group(self.process, timeout)
        finally:
            self._log.close()
