"""``python -m wslocal.jwks_issuer``: the issuer in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from wslocal.jwks_issuer.app import JWKS_PATH, serve
from wslocal.jwks_issuer.keys import ALGORITHMS, Issuer
from wslocal.local_ca import ensure_ca

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.jwks_issuer",
        description="Local token issuer: signing keys and their JWKS over HTTPS (local only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--dir", type=Path, required=True, help="keys live in DIR/keys")
    parser.add_argument("--tls-dir", type=Path, help="CA and server certificate (DIR/../tls)")
    parser.add_argument(
        "--alg", action="append", choices=ALGORITHMS, default=[], help="ensure a key (repeatable)"
    )
    args = parser.parse_args(argv)
    # A failed TLS handshake is a warning of wslocal.http_server: one line on stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    tls_dir = args.tls_dir or args.dir.resolve().parent / "tls"
    ca = ensure_ca(tls_dir)
    issuer = Issuer(args.dir)
    issuer.ensure(args.alg or ALGORITHMS)
    server = serve(issuer, ca, args.port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"issuer ready {server.url}{JWKS_PATH} ca {ca.ca_file}", flush=True)
    try:
        server.serve()
    finally:
        server.stop()
    return 0
