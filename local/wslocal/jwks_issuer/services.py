"""The issuer as a service of the local stack, and the services that trust or use it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from wslocal.jwks_issuer.keys import ALGORITHMS
from wslocal.local_ca import LocalCA
from wslocal.stack import Service, StackConfig, StackInfo, backend_service, gateway_service

__all__ = [
    "ca_file",
    "issuer_dir",
    "issuer_service",
    "jwks_backend_service",
    "trusting_gateway_service",
]


def issuer_dir(workdir: Path) -> Path:
    """Where the stack's issuer keeps its keys."""
    return Path(workdir) / "issuer"


def ca_file(workdir: Path) -> Path:
    """The local CA every process of the stack that calls the issuer trusts."""
    return LocalCA(Path(workdir) / "tls").ca_file


def issuer_service(
    port: int, algorithms: Sequence[str] = ALGORITHMS, *, tls_dir_name: str = "tls"
) -> Service:
    """The issuer on `port`, keys in ``<workdir>/issuer``, TLS from ``<workdir>/<tls_dir_name>``
    (another name than ``tls`` serves a certificate from a CA nobody trusts)."""

    def argv(info: StackInfo) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "wslocal.jwks_issuer",
            "--port",
            str(port),
            "--dir",
            str(issuer_dir(info.workdir)),
            "--tls-dir",
            str(Path(info.workdir) / tls_dir_name),
        ]
        for alg in algorithms:
            command += ["--alg", alg]
        return command

    return Service("issuer", argv, lambda config: port)


def trusting_gateway_service(extra_args: Sequence[str] = ()) -> Service:
    """The gateway whose workers trust the stack's CA (``SSL_CERT_FILE`` through the gateway's
    ``--worker-env``)."""

    def argv(info: StackInfo) -> Sequence[str]:
        trust = ["--worker-env", f"SSL_CERT_FILE={ca_file(info.workdir)}"]
        return gateway_service([*trust, *extra_args]).argv(info)

    return Service("gateway", argv, lambda config: config.gateway_port)


def jwks_backend_service(
    jwks_url: str,
    algorithms: Sequence[str] = ALGORITHMS,
    sessions: Sequence[str] = ("lab-1:alice", "lab-1:bob"),
) -> Service:
    """The reference backend verifying tokens by `jwks_url` instead of the HS256 secret."""
    base = backend_service(sessions)

    def argv(info: StackInfo) -> list[str]:
        command = list(base.argv(info))
        if "--jwt-secret-arn" in command:
            at = command.index("--jwt-secret-arn")
            del command[at : at + 2]
        command += ["--jwks-url", jwks_url, "--jwks-ca-file", str(ca_file(info.workdir))]
        for alg in algorithms:
            command += ["--jwt-algorithm", alg]
        return command

    def port(config: StackConfig) -> int:
        return base.port(config)

    return Service("backend", argv, port)
