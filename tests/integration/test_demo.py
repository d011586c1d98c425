"""`python -m wslocal.demo` (what `make demo` runs) as a user runs it: every step passes and
shows in the transcript, `--keep-running` prints commands that work and Ctrl-C tears the
stack down, and in both cases no process it started is left and its ports are closed.

Only the run as `make demo` runs it applies the fan-out part and holds the topic step (two
subscribers get a broadcast through the queue once each, a third connection nothing): the
AWS provider's waits on the queues add about 95 s to a run, so the other runs pass
`--no-topics`.

Every process descended from the demo is recorded while it runs (from /proc), so a child
that outlives it is found even after it has been re-parented.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from wslocal import demo
from wslocal.demo import ports as demo_ports
from wslocal.stack import REPO_ROOT, free_port, port_accepts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# How long a whole run may take: with the fan-out part (topics) the apply and the destroy
# take about 95 s more.
DEMO_TIMEOUT = {True: 480, False: 240}

PROC = Path("/proc")
STEP_HEADER = re.compile(r"^\[\s*(\d+)/(\d+)\] (.+)$")
# What each step's block must show, beyond its "ok" line.
STEP_EVIDENCE = {
    1: [r"ok \(.*\): http://127\.0\.0\.1:\d+ "],
    2: [r"terraform apply done in \d+\.\d s", r"ok \(.*\): apply \d+\.\d s; API \w+"],
    3: [r"gateway\s+ws://127\.0\.0\.1:\d+/local", r"@connections http://127\.0\.0\.1:\d+/local"],
    4: [r"sub=alice sessionId=lab-1"],
    5: [r"record: connectionId=\S+ userId=alice sessionId=lab-1 expiresAt=now\+7[12]\d\d s"],
    6: [r'<- \{"type": "pong"', r"no backend call"],
    7: [r'"userId": "mallory"', r'"executed": false', r'"userId": "alice"', r"from the token"],
    8: [r'"type": "resize_ack", "cols": 120, "rows": 40'],
    9: [
        r'-> \{"sent": 1, "gone": 0, "failed": 0, "seq": \d+\}',
        r'<- \{"seq": \d+, "type": "notice"',
    ],
    # 10: the topic step, TOPIC_EVIDENCE
    11: [r"handshake answered HTTP 401; nothing stored"],
    12: [r"record removed from the table", r'"disconnectStatusCode": 1000'],
    13: [r"\. terraform destroy", r"stopped: (redis, )?backend, gateway, emulator"],
}
TOPIC_STEP = 10
# The topic step with the fan-out part (`make demo`) and without it (`--no-topics`).
TOPIC_EVIDENCE = {
    True: [
        r"topic news/demo",
        r'alice -> \{"type": "subscribe", "topic": "news/demo".*<- \{"type": "subscribed"',
        r'bob   -> \{"type": "subscribe", "topic": "news/demo".*<- \{"type": "subscribed"',
        r'carol -> \{"type": "unsubscribe", "topic": "news/demo".*<- \{"type": "unsubscribed"',
        r"subscriptions table ws-local-subscriptions: news/demo#\d+, news/demo#\d+$",
        # Through the queue: no direct push, one job per shard.
        r'-> \{"topic": "news/demo", "direct": null, "queuedJobs": 16\}',
        r"queue empty, then 1 s of silence on all three: no second copy, and nothing for carol",
        r"\$disconnect removed the listeners' subscriptions",
    ],
    False: [r"off \(--no-topics\): examples/local applied without its fan-out part"],
}
SIGNATURES = {
    True: r"14 verified \(validate, 2 messages, disconnect; 10 of the topic step\), 0 refused",
    False: r"4 verified \(validate, 2 messages, disconnect\), 0 refused",
}


# -- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a live process, None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Descendants:
    """Every process descended from `root` seen while it ran: pid → (start time, cmdline)."""

    root: int
    seen: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Every command line each process had: one seen between fork and exec still shows its
    # parent's, so a process is read again on every scan until it is gone.
    cmdlines: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _scan(self) -> None:
        parents: dict[int, list[int]] = {}
        for entry in PROC.iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
                parents.setdefault(stat[0], []).append(int(entry.name))
        todo = [self.root]
        while todo:
            for child in parents.get(todo.pop(), []):
                stat = _stat(child)
                if stat is not None:
                    cmdline = _cmdline(child)
                    if child not in self.seen or self.seen[child][0] != stat[2]:
                        self.seen[child] = (stat[2], cmdline)
                    self.cmdlines.add(cmdline)
                todo.append(child)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._scan()

    @contextmanager
    def watching(self) -> Iterator[None]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=10)

    def alive(self) -> list[str]:
        """The recorded processes still running (same pid and start time, not a zombie)."""
        left = []
        for pid, (started, cmdline) in self.seen.items():
            stat = _stat(pid)
            if stat is not None and stat[2] == started and stat[1] != "Z":
                left.append(f"{pid} {cmdline}")
        return left

    def commands(self) -> str:
        return "\n".join(sorted(self.cmdlines))


# -- running the demo -------------------------------------------------------------------------


def demo_environment() -> dict[str, str]:
    """The caller's environment without AWS settings (the demo brings its own), plus the
    source tree on PYTHONPATH as the Makefile sets it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "lambda"), str(REPO_ROOT / "local")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(ports) < len(demo.DEFAULT_PORTS):
        port = free_port()
        if port not in ports.values():
            ports[list(demo.DEFAULT_PORTS)[len(ports)]] = port
    return ports


def demo_argv(ports: dict[str, int], *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "wslocal.demo", *extra]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    return argv


def stop_demo(process: subprocess.Popen[str]) -> None:
    """After a failed check: Ctrl-C (the demo tears down), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def steps_of(transcript: str) -> dict[int, list[str]]:
    """The lines of each numbered step's block."""
    blocks: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in transcript.splitlines():
        if match := STEP_HEADER.match(line):
            current = blocks.setdefault(int(match[1]), [line])
        elif current is not None and line.startswith(" " * 8):
            current.append(line.strip())
    return blocks


def assert_every_step_passed(transcript: str, *, topics: bool) -> None:
    blocks = steps_of(transcript)
    assert sorted(blocks) == list(range(1, len(demo.STEPS) + 1)), transcript
    evidence_of = {**STEP_EVIDENCE, TOPIC_STEP: TOPIC_EVIDENCE[topics]}
    evidence_of[12] = [*STEP_EVIDENCE[12], f"backend request signatures: {SIGNATURES[topics]}"]
    for number, title in enumerate(demo.STEPS, start=1):
        block = blocks[number]
        assert block[0] == f"[{number:>2}/{len(demo.STEPS)}] {title}"
        assert not any(line.startswith("FAILED") for line in block), "\n".join(block)
        assert sum(line.startswith("ok (") for line in block) == 1, "\n".join(block)
        text = "\n".join(block)
        for evidence in evidence_of[number]:
            assert re.search(evidence, text, re.MULTILINE), (
                f"step {number} lacks {evidence!r}:\n{text}"
            )
    if topics:
        # What each listener received (not a reply to its own message): the broadcast, once
        # for each subscriber, nothing for the connection that is not subscribed.
        pushed = [line.split(" <- ") for line in blocks[TOPIC_STEP] if " <- " in line]
        received = [(who.strip(), what) for who, what in pushed if "->" not in who]
        news = '{"type": "news", "text": "hello, subscribers"}'
        assert received == [("alice", news), ("bob", news)], blocks[TOPIC_STEP]


def assert_nothing_left(ports: dict[str, int], processes: Descendants) -> None:
    started = processes.commands()
    for module in (
        "wslocal.emulator",
        "wslocal.reference_backend",
        "wslocal.gateway",
        "_worker.py",
    ):
        assert module in started, f"{module} was never seen running:\n{started}"
    assert "terraform" in started
    assert processes.alive() == []
    assert [name for name, port in ports.items() if port_accepts(port)] == []


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.timeout(max(DEMO_TIMEOUT.values()) + 60)
def test_demo_runs_every_step_and_leaves_nothing_running() -> None:
    """`make demo` as it is run. The keep-running test below runs the other way: Redis for
    the session state and no fan-out part."""
    topics = True
    ports = free_ports()
    process = subprocess.Popen(
        demo_argv(ports),
        cwd=REPO_ROOT,
        env=demo_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes = Descendants(process.pid)
    with processes.watching():
        try:
            transcript, _ = process.communicate(timeout=DEMO_TIMEOUT[topics])
        finally:
            stop_demo(process)
    assert process.returncode == 0, transcript
    assert_every_step_passed(transcript, topics=topics)
    assert transcript.splitlines()[-1].startswith("demo passed: 13 steps in ")
    assert "session state kept in memory: terminal 120x40" in transcript
    assert_nothing_left(ports, processes)


def _reader(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _read_until(lines: queue.Queue[str | None], marker: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} did not appear:\n{''.join(seen)}")


def test_keep_running_prints_working_commands_and_ctrl_c_tears_down() -> None:
    ports = free_ports()
    process = subprocess.Popen(
        demo_argv(ports, "--keep-running", "--session-store", "--no-topics"),
        cwd=REPO_ROOT,
        env=demo_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    processes = Descendants(process.pid)
    with processes.watching():
        try:
            held = "".join(_read_until(lines, "Ctrl-C here tears everything down", 180))
            assert "demo passed" not in held
            commands = [line.strip() for line in held.splitlines() if line.startswith("  ")]
            export = next(c for c in commands if c.startswith("export "))
            send = next(c for c in commands if " connect " in c and "--send" in c)
            # The printed commands work from a shell with nothing else set.
            shell_env = {k: v for k, v in demo_environment().items() if k != "PYTHONPATH"}
            client = subprocess.run(
                ["bash", "-c", f"{export}\n{send}"],
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert client.returncode == 0, client.stderr
            # A new client resumes from 0 (docs/design.md#resume): the session's history from
            # the demo's steps comes first, in seq order, each once; then the replies to its
            # own two messages, which are handled on their own, as on AWS, in any order.
            frames = [json.loads(line) for line in client.stdout.splitlines()]
            seqs = [frame["seq"] for frame in frames if "seq" in frame]
            assert seqs == list(range(1, len(seqs) + 1)), frames
            assert [f for f in frames if f["type"] == "pong"] == [{"type": "pong"}], frames
            (own,) = [f for f in frames if f.get("command") == "ls -la"]
            assert own["type"] == "command_result", own
            assert own["userId"] == "alice", own
            assert "id" in own, own  # the reply to its request
            assert all(port_accepts(port) for port in ports.values())

            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
            process.wait(timeout=120)
        finally:
            stop_demo(process)
    rest: list[str] = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    transcript = held + "".join(rest)
    assert process.returncode == 0, transcript
    assert "Ctrl-C: tearing down" in transcript
    assert_every_step_passed(transcript, topics=False)
    assert "session state kept in redis: terminal 120x40" in transcript
    assert_nothing_left(ports, processes)


def test_a_taken_default_port_is_replaced_and_an_explicit_one_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        defaults = {"emulator": busy, "gateway": free_port(), "backend": free_port()}
        defaults["connections"] = free_port()
        monkeypatch.setattr(demo_ports, "DEFAULT_PORTS", defaults)
        ports, notes = demo.choose_ports(dict.fromkeys(defaults))
        assert ports["emulator"] != busy
        assert len(set(ports.values())) == 4
        assert notes == [f"port {busy} (emulator) is taken: using {ports['emulator']} instead"]
        with pytest.raises(demo.DemoFailed, match=f"port {busy} \\(gateway\\) is taken"):
            demo.choose_ports({"gateway": busy})


def test_a_failing_step_stops_the_demo_with_exit_1_and_cleans_up(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text("#!/bin/sh\necho 'simulated terraform failure' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = demo_environment()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    ports = free_ports()
    process = subprocess.Popen(
        demo_argv(ports),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes = Descendants(process.pid)
    with processes.watching():
        try:
            transcript, _ = process.communicate(timeout=120)
        finally:
            stop_demo(process)
    assert process.returncode == 1, transcript
    blocks = steps_of(transcript)
    assert sorted(blocks) == [1, 2, 13], transcript
    assert blocks[1][-1].startswith("ok (")
    failure = "\n".join(blocks[2])
    assert "FAILED: `terraform init" in failure
    assert "simulated terraform failure" in failure
    kept = re.search(r"logs kept in (\S+)", failure)
    assert kept is not None, failure
    assert (Path(kept[1]) / "emulator.log").is_file()
    shutil.rmtree(kept[1])
    assert blocks[13][-1].startswith("ok (")
    assert "stopped: emulator" in blocks[13][-1]
    assert transcript.splitlines()[-1] == "demo FAILED at step 2; see above"
    assert "wslocal.emulator" in processes.commands()
    assert processes.alive() == []
    assert [name for name, port in ports.items() if port_accepts(port)] == []
