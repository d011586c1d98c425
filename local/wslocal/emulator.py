"""The local AWS emulator: moto's server, with the API Gateway v2 operations Terraform needs.

Run it as `python -m wslocal.emulator --port 4566` (it prints one ready line, then serves
until SIGTERM or SIGINT), or in-process with `start_emulator(port)`. It listens on
127.0.0.1 only. Clients reach it through `AWS_ENDPOINT_URL=http://127.0.0.1:<port>`, so
the same commands run against a real LocalStack by pointing that variable elsewhere.

moto is configured here for this process only: AWS managed IAM policies are loaded (a
module may attach `AmazonAPIGatewayPushToCloudWatchLogs`), Lambda never tries Docker
(the local gateway runs the deployed packages itself), and IAM is enforced for the
credentials the emulator issues (IAM users' keys, `sts:AssumeRole`), not for the fixed admin
keys (`emulator_iam`). `POST /_wslocal/iam/authorize` checks a request the emulator does not
serve itself (the local gateway's `@connections`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from wslocal import (
    emulator_apigatewayv2,
    emulator_apigatewayv2_domains,
    emulator_elasticache,
    emulator_iam,
    emulator_lambda,
)

__all__ = ["DEFAULT_PORT", "READY_PREFIX", "EmulatorHandle", "configure_moto", "start_emulator"]

DEFAULT_PORT = 4566
HOST = "127.0.0.1"
READY_PREFIX = "emulator ready on "


def configure_moto() -> None:
    """Adjust moto for this process before it serves its first request. Idempotent."""
    default_user_config["iam"] = {"load_aws_managed_policies": True}
    default_user_config["lambda"] = {"use_docker": False}
    emulator_apigatewayv2.install()
    emulator_lambda.install()
    emulator_iam.install()
    emulator_elasticache.install()
    emulator_apigatewayv2_domains.install()


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator: `url` is the value for `AWS_ENDPOINT_URL`."""

    server: BaseWSGIServer
    thread: threading.Thread
    url: str
    port: int

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_emulator(port: int = DEFAULT_PORT) -> EmulatorHandle:
    """Serve the emulator from a thread of this process; port 0 picks a free port.

    This patches moto for the whole process (see `configure_moto`): a process that also uses
    moto's in-process mocks should run `python -m wslocal.emulator` as a child instead.
    Raises OSError at once when the port cannot be bound."""
    configure_moto()
    try:
        server = make_server(
            HOST,
            port,
            emulator_iam.wsgi_middleware(DomainDispatcherApplication(create_backend_app)),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    except SystemExit:  # werkzeug exits when the port is taken
        raise OSError(f"cannot listen on {HOST}:{port}") from None
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    bound = int(server.server_address[1])
    return EmulatorHandle(server=server, thread=thread, url=f"http://{HOST}:{bound}", port=bound)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.emulator",
        description="moto's AWS emulator with the API Gateway v2 operations Terraform needs",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port on 127.0.0.1")
    parser.add_argument("--log-requests", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
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
