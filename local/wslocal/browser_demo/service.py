"""The demo page's server as a service of the local stack."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

from wslocal.stack import Service, StackInfo

__all__ = ["DEFAULT_SESSIONS", "demo_service"]

DEFAULT_SESSIONS: Final = ("lab-1:alice", "lab-1:bob")


def demo_service(sessions: Sequence[str] = DEFAULT_SESSIONS, port: int = 0) -> Service:
    """This page's server as a stack service (`port` 0: a free one, printed when ready)."""

    def argv(info: StackInfo) -> list[str]:
        config = info.config
        command = [
            sys.executable, "-m", "wslocal.browser_demo", "serve",
            "--port", str(port),
            "--ws-url", info.outputs.local_websocket_url,
            "--backend-url", f"http://127.0.0.1:{config.backend_port}",
            "--callback-url", info.outputs.local_callback_url,
            "--jwt-secret-arn", info.jwt_secret_arn,
        ]  # fmt: skip
        for session in sessions:
            command += ["--session", session]
        return command

    return Service("browser-demo", argv, lambda _config: port)
