"""`python -m wslocal.emulator [--port 4566] [--log-requests]`: print one ready line, serve
until SIGTERM or SIGINT, print `emulator stopped`, exit 0 (1 when the port is taken)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from wslocal.emulator.server import DEFAULT_PORT, READY_PREFIX, start_emulator

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.emulator",
        description="moto's AWS emulator with the API Gateway v2 operations Terraform needs",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port on 127.0.0.1")
    parser.add_argument("--log-requests", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    # IAM decisions (wslocal.emulator.iam) are logged at WARNING, one line each, with the
    # denied action and resource: a failure in a local run names what AWS would refuse.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.log_requests else logging.WARNING)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    try:
        handle = start_emulator(args.port)
    except OSError as error:
        print(f"emulator: {error}", file=sys.stderr)
        return 1
    print(f"{READY_PREFIX}{handle.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        handle.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
