"""`python -m wslocal.gateway`: serve a deployed WebSocket API until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from wslocal.gateway.server import Gateway
from wslocal.gateway.settings import GatewayError, GatewaySettings

READY_PREFIX = "gateway ready "


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be from 0 to 1")
    return value


def _variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    # One add_argument per flag, in the order of the README's synopsis: long, not complex.
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.gateway",
        description=(
            "API Gateway's WebSocket data plane for an API deployed into an AWS emulator. "
            "The control plane is reached through AWS_ENDPOINT_URL; the region comes from "
            "AWS_REGION or AWS_DEFAULT_REGION."
        ),
    )
    parser.add_argument("--api-id", required=True, help="the WebSocket API's id")
    parser.add_argument("--stage", required=True, help="the stage to serve")
    parser.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0: any free)")
    parser.add_argument("--http-port", type=int, default=0, help="@connections port (0: any free)")
    parser.add_argument(
        "--package-dir",
        action="append",
        required=True,
        type=Path,
        help="directory searched for the zips the functions were deployed from (repeatable)",
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=2, help="warm workers per function (2)"
    )
    parser.add_argument(
        "--idle-timeout", type=_positive_float, default=600.0, help="seconds (AWS: 600)"
    )
    parser.add_argument(
        "--max-duration", type=_positive_float, default=7200.0, help="seconds (AWS: 7200)"
    )
    parser.add_argument(
        "--max-message-bytes", type=_positive_int, default=131072, help="bytes (AWS: 131072)"
    )
    parser.add_argument(
        "--drop-disconnect-rate",
        type=_fraction,
        default=0.0,
        help="fraction of closed connections whose $disconnect is never sent (AWS: best "
        "effort; 0: always sent)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        type=_variable,
        metavar="NAME=VALUE",
        help="a variable added to every worker's Lambda environment (repeatable)",
    )
    parser.add_argument(
        "--function-credentials",
        choices=["role", "gateway"],
        default="role",
        help="role: each function runs with its execution role's temporary credentials "
        "(sts:AssumeRole, as on Lambda); gateway: with this process's credentials",
    )
    parser.add_argument(
        "--domain-name",
        help="a custom domain whose API mapping (base path) to this stage is served too",
    )
    parser.add_argument(
        "--no-event-sources",
        dest="event_sources",
        action="store_false",
        help="do not poll the region's SQS event source mappings (polled by default, as "
        "Lambda does)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser.parse_args(argv)


async def serve(settings: GatewaySettings) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    gateway = Gateway(settings)
    try:
        await gateway.start()
    except GatewayError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        print(
            f"{READY_PREFIX}ws={gateway.ws_url} connections={gateway.connections_url}"
            + (
                f" domain_ws={gateway.domain_ws_url}"
                f" domain_connections={gateway.domain_connections_url}"
                if gateway.domain_ws_url
                else ""
            ),
            flush=True,
        )
        await stopping.wait()
    finally:
        await gateway.stop()
    logging.getLogger("wslocal.gateway").info("gateway stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    settings = GatewaySettings(
        api_id=args.api_id,
        stage=args.stage,
        package_dirs=tuple(args.package_dir),
        ws_port=args.ws_port,
        http_port=args.http_port,
        workers=args.workers,
        idle_timeout=args.idle_timeout,
        max_duration=args.max_duration,
        max_message_bytes=args.max_message_bytes,
        disconnect_drop_rate=args.drop_disconnect_rate,
        worker_environment=dict(args.worker_env),
        function_credentials=args.function_credentials,
        domain_name=args.domain_name,
        event_sources=args.event_sources,
    )
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
