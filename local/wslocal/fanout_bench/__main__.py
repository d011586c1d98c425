"""`make bench-fanout`: delivered/s of one broadcast through the local fan-out against the
number of workers (the event source mapping's maximum concurrency), as ratios to one
worker measured in the same run.

Each run deploys a fresh queue, worker function and mapping into one local emulator,
starts a gateway that polls it, sends a broadcast to `--subscribers` connections (one SQS
message per `--chunk` of them, `--batch-size` messages per invocation), and times it from
the first message sent to the last post the stub `@connections` endpoint answered (after
`--latency-ms`, as API Gateway's own answer time). Everything listens on 127.0.0.1; each
run is bounded by `--timeout` and the command exits 1 when one does not finish.

    python -m wslocal.fanout_bench [--workers 1,2,4,8] [--subscribers 20000]
        [--latency-ms 10] [--chunk 50] [--batch-size 5] [--worker double|real]

`--worker double` (the default) runs `wslocal.fanout_bench.worker_double`; `real` runs the
module's worker, `ws_bridge.fanout.handler`, from packages/ws_bridge.zip. The figures are
this machine's: the stub, the emulator, the gateway and the workers share its cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from wslocal.fanout_bench.rig import Rig, zip_of
from wslocal.fanout_bench.run import DOUBLE_HANDLER, Broadcast, Outcome, broadcast
from wslocal.stack import REPO_ROOT, ManagedProcess

REAL_HANDLER = "ws_bridge.fanout.handler"


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
    parser.add_argument("--chunk", type=int, default=50, help="subscribers per SQS message")
    parser.add_argument("--batch-size", type=int, default=5, help="messages per invocation")
    parser.add_argument("--worker", choices=["double", "real"], default="double")
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


def _package(kind: str, workdir: Path) -> tuple[Path, str]:
    if kind == "real":
        shipped = REPO_ROOT / "packages" / "ws_bridge.zip"
        target = workdir / "packages" / "ws_bridge.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shipped.read_bytes())
        return target, REAL_HANDLER
    double = Path(__file__).with_name("worker_double.py")
    return zip_of({"worker_double.py": double}, workdir / "packages" / "double.zip"), (
        DOUBLE_HANDLER
    )


def _line(workers: int, outcome: Outcome, baseline: float) -> str:
    ratio = f"{outcome.per_second / baseline:5.2f}" if baseline else "    -"
    return (
        f"{workers:>7} {outcome.seconds:8.2f} {outcome.per_second:12.0f} {ratio:>9}"
        f"{'' if outcome.finished else '   (did not finish)'}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    subscribers = [f"conn-{i:07d}" for i in range(args.subscribers)]
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        workdir = Path(tmp)
        emulator = _emulator(workdir)
        try:
            package, handler = _package(args.worker, workdir)
            rig = Rig()
            print(
                f"fan-out: {args.subscribers} subscribers, {args.chunk} per message, "
                f"{args.batch_size} messages per invocation, stub @connections answering in "
                f"{args.latency_ms:g} ms, worker: {args.worker} ({handler})"
            )
            print(f"{'workers':>7} {'seconds':>8} {'delivered/s':>12} {'ratio':>9}")
            baseline: float | None = None
            failed = False
            for workers in args.workers:
                outcome = broadcast(
                    rig,
                    package,
                    Broadcast(
                        subscribers=subscribers,
                        workers=workers,
                        chunk=args.chunk,
                        batch_size=args.batch_size,
                        latency=args.latency_ms / 1000,
                        timeout=args.timeout,
                    ),
                    handler=handler,
                )
                baseline = baseline or outcome.per_second
                failed = failed or not outcome.finished
                print(_line(workers, outcome, baseline))
                sys.stdout.flush()
        finally:
            emulator.stop(timeout=10)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
