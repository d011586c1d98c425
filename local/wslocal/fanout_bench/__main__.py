"""`make bench-fanout`: delivered/s of one broadcast through the local fan-out against the
number of workers (the event source mapping's maximum concurrency), as ratios to one
worker measured in the same run.

Each run deploys a fresh queue, fan-out worker (`ws_bridge.fanout.handler`, from the Lambda
package built into a temporary folder by tools/build_package.py) and event source mapping
into one local emulator, starts a gateway that polls it, sends a broadcast to
`--subscribers` connections as the SDK queues it (`--chunk` ids per message, the
contract's default 1,000; `--batch-size` messages per invocation), and times it from the
first message sent to the last post the stub `@connections` endpoint answered (after
`--latency-ms`, as API Gateway's own answer time). It also counts subscribers that got
nothing (lost) and posts made twice (dup: the worker re-posts a post that timed out, and
what a killed invocation had posted). Everything listens on 127.0.0.1; each run is bounded
by `--timeout` and the command exits 1 when one does not finish or loses a delivery.

    python -m wslocal.fanout_bench [--workers 1,2,4,8] [--subscribers 20000]
        [--latency-ms 10] [--chunk 1000] [--batch-size 1]

The figures are this machine's: the stub, the emulator, the gateway and the workers share
its cores, and each worker posts `FANOUT_CONCURRENCY` (32) at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ws_bridge_backend import contract
from wslocal.fanout_bench.rig import Rig, build_package
from wslocal.fanout_bench.run import HANDLER, Broadcast, Outcome, Tables, broadcast
from wslocal.stack import REPO_ROOT, ManagedProcess


def _workers(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of counts of at least 1")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wslocal.fanout_bench", description=__doc__)
    parser.add_argument("--workers", type=_workers, default=[1, 2, 4, 8])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument(
        "--chunk",
        type=int,
        default=contract.FANOUT_MAX_IDS_PER_MESSAGE,
        help="subscribers per SQS message",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="messages per invocation")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    return parser.parse_args(argv)


def _emulator(workdir: Path) -> ManagedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT / "local")
    process = ManagedProcess(
        "emulator",
        [sys.executable, "-m", "wslocal.emulator", "--port", "0"],
        env,
        workdir / "emulator.log",
    )
    port = process.wait_ready(0, timeout=60)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    return process


@contextlib.contextmanager
def _quiet_workers(log: Path) -> Iterator[None]:
    """The workers write their logs and metrics to the gateway's stderr, this process's:
    into `log` while the runs last, so that the table stays readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _line(workers: int, outcome: Outcome, baseline: float, lost: int) -> str:
    ratio = f"{outcome.per_second / baseline:5.2f}" if baseline else "    -"
    return (
        f"{workers:>7} {outcome.seconds:8.2f} {outcome.per_second:12.0f} {ratio:>9}"
        f" {lost:>5} {outcome.duplicated:>5}"
        f"{'' if outcome.finished else '   (did not finish)'}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    subscribers = [f"conn-{i:07d}" for i in range(args.subscribers)]
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        workdir = Path(tmp)
        emulator = _emulator(workdir)
        try:
            package = build_package(workdir)
            rig = Rig()
            tables = Tables(rig)
            print(
                f"fan-out: {args.subscribers} subscribers, {args.chunk} per message, "
                f"{args.batch_size} messages per invocation, stub @connections answering in "
                f"{args.latency_ms:g} ms, worker {HANDLER}"
            )
            print(
                f"{'workers':>7} {'seconds':>8} {'delivered/s':>12} {'ratio':>9}"
                f" {'lost':>5} {'dup':>5}"
            )
            baseline: float | None = None
            failed = False
            for workers in args.workers:
                with _quiet_workers(workdir / "workers.log"):
                    outcome = broadcast(
                        rig,
                        tables,
                        package,
                        Broadcast(
                            subscribers=subscribers,
                            workers=workers,
                            chunk=args.chunk,
                            batch_size=args.batch_size,
                            latency=args.latency_ms / 1000,
                            timeout=args.timeout,
                        ),
                    )
                baseline = baseline or outcome.per_second
                lost = outcome.lost(subscribers, frozenset())
                failed = failed or not outcome.finished or lost > 0
                print(_line(workers, outcome, baseline, lost))
                sys.stdout.flush()
        finally:
            emulator.stop(timeout=10)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
