"""The local AWS emulator: moto's server with this project's extensions, one module per service.

Run it as `python -m wslocal.emulator --port 4566` (it prints one ready line, then serves
until SIGTERM or SIGINT), or in-process with `start_emulator(port)`. It listens on
127.0.0.1 only. Clients reach it through `AWS_ENDPOINT_URL=http://127.0.0.1:<port>`, so
the same commands run against a real LocalStack by pointing that variable elsewhere.

moto is configured for the emulator's process only (`configure_moto`). In the style of
moto's own per-service packages, each extension is a module of its own:

- `apigatewayv2`: deployments, stage updates, route-response and authorizer listings;
- `apigatewayv2_domains`: custom domain names completed as AWS reports them;
- `elasticache`: user groups, subnet-group deletion, replication-group members;
- `awslambda`: `LoggingConfig` and the other settings moto drops, GetLayerVersionByArn;
- `awslambda_esm`: the checks Lambda makes on an SQS event source mapping;
- `sqs`: no invocation from inside moto on send (the local gateway polls), receives and
  deletes that stay atomic under several pollers, and `RedriveAllowPolicy` answered;
- `iam`: IAM decided as AWS decides it for the credentials the emulator issues (policy
  evaluation, resource mapping, KMS behind Secrets Manager and DynamoDB, trust and resource
  policies, SigV4 checks), and `POST /_wslocal/iam/authorize` (see `wslocal.emulator.iam`);
- `server`: the WSGI server (`start_emulator`), `__main__`: the command line.

The names below are imported on first use, so that the pure policy evaluation
(`wslocal.emulator.iam.policy`) can be imported without moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wslocal.emulator.server import (
        DEFAULT_PORT,
        READY_PREFIX,
        EmulatorHandle,
        configure_moto,
        start_emulator,
    )

__all__ = ["DEFAULT_PORT", "READY_PREFIX", "EmulatorHandle", "configure_moto", "start_emulator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from wslocal.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module 'wslocal.emulator' has no attribute {name!r}")
