"""The emulator's WSGI server: moto's backend application behind the IAM middleware, served
by werkzeug on 127.0.0.1 (`start_emulator`), with moto configured first (`configure_moto`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from wslocal.emulator import (
    acm,
    apigatewayv2,
    apigatewayv2_domains,
    awslambda,
    awslambda_esm,
    elasticache,
    iam,
    sqs,
)

__all__ = [
    "DEFAULT_PORT",
    "HOST",
    "READY_PREFIX",
    "EmulatorHandle",
    "configure_moto",
    "start_emulator",
]

DEFAULT_PORT = 4566
HOST = "127.0.0.1"
READY_PREFIX = "emulator ready on "


# moto's settings the emulator needs. With AWS managed policies loaded, every reset of
# moto's IAM (each `mock_aws()` of this process) builds about 1,300 policies: 2 s a test.
EMULATOR_USER_CONFIG: dict[str, dict[str, bool]] = {
    "iam": {"load_aws_managed_policies": True},
    "lambda": {"use_docker": False},
}


def _user_config() -> dict[str, Any]:
    """moto's process-wide settings, by section name."""
    return cast("dict[str, Any]", default_user_config)


def configure_moto() -> None:
    """Adjust moto for this process before it serves its first request. Idempotent.

    AWS managed IAM policies are loaded (a module may attach
    `AmazonAPIGatewayPushToCloudWatchLogs`), Lambda never tries Docker (the local gateway
    runs the deployed packages itself), and each service extension is installed."""
    _user_config().update(EMULATOR_USER_CONFIG)
    acm.install()
    apigatewayv2.install()
    awslambda.install()
    iam.install()
    elasticache.install()
    apigatewayv2_domains.install()
    awslambda_esm.install()
    sqs.install()


class _Settings:
    """moto's settings while emulators serve in this process: applied when the first starts,
    given back when the last stops (or fails to start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serving = 0
        self._saved: dict[str, Any] = {}

    def acquire(self) -> None:
        with self._lock:
            if self._serving == 0:
                config = _user_config()
                self._saved = {n: config[n] for n in EMULATOR_USER_CONFIG if n in config}
            self._serving += 1
            configure_moto()

    def release(self) -> None:
        with self._lock:
            self._serving -= 1
            if self._serving > 0:
                return
            config = _user_config()
            for name in EMULATOR_USER_CONFIG:
                if name in self._saved:
                    config[name] = self._saved[name]
                else:
                    config.pop(name, None)


_SETTINGS = _Settings()


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator: `url` is the value for `AWS_ENDPOINT_URL`."""

    server: BaseWSGIServer
    thread: threading.Thread
    url: str
    port: int

    def stop(self) -> None:
        """Stop serving; the last emulator of the process to stop gives moto its settings
        back, so that `mock_aws()` here is as fast afterwards as before (the extensions stay
        installed: they only act on requests an emulator serves)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        _SETTINGS.release()


def start_emulator(port: int = DEFAULT_PORT) -> EmulatorHandle:
    """Serve the emulator from a thread of this process; port 0 picks a free port.

    This patches moto for the whole process while it serves (see `configure_moto`): a
    process that also uses moto's in-process mocks meanwhile should run
    `python -m wslocal.emulator` as a child instead.
    Raises OSError at once when the port cannot be bound."""
    _SETTINGS.acquire()
    try:
        server = make_server(
            HOST,
            port,
            iam.wsgi_middleware(DomainDispatcherApplication(create_backend_app)),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    except SystemExit:  # werkzeug exits when the port is taken
        _SETTINGS.release()
        raise OSError(f"cannot listen on {HOST}:{port}") from None
    except BaseException:
        _SETTINGS.release()
        raise
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    bound = int(server.server_address[1])
    return EmulatorHandle(server=server, thread=thread, url=f"http://{HOST}:{bound}", port=bound)
