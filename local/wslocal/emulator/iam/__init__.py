"""IAM in the local emulator, decided as AWS decides it for the credentials the emulator
issues (IAM users' keys, `sts:AssumeRole` credentials), for every policy shape the module
and its examples write.

One module per concern, data flowing one way (request → accesses → decisions):

- `matching`     action names, ARN segments, policy variables (pure)
- `conditions`   the Condition element: every operator, IfExists, ForAnyValue/ForAllValues,
                 absent keys (pure)
- `policy`       statements, principals of resource-based policies, the decision: explicit
                 deny, identity and resource-based policies, key and trust policies that
                 must allow themselves (pure)
- `resources`    an API call as the authorizations AWS makes for it, from explicit tables
                 (`services_data`: DynamoDB, Secrets Manager, SSM; `services_keys`: KMS,
                 STS; `services_other`: execute-api, ElastiCache, Logs, X-Ray, CloudWatch;
                 `services_queues`: SQS),
                 with `kms_behind`: the KMS call a service makes on the caller's behalf.
                 An operation no table lists is refused, saying so.
- `authorize`    a caller and a call: every authorization decided, AWS's error on refusal
- `sigv4`        host signed, 15-minute skew, credential scope
- `moto_state`   principals, policies and resource facts from moto's backends
- `moto_hook`    `install()`: moto's authorization hook replaced for issued keys
- `signed`, `endpoint`  `POST /_wslocal/iam/authorize` (its formats: endpoint.py)

What is not evaluated, because the module writes none of it: permission boundaries, session
policies, service control and resource control policies, KMS grants, S3 ACLs. The fixed
admin keys of the local tools are not held to IAM (they stand for the account's
administrator), except that a role's trust policy must let the account or an AWS service
assume it. docs/local-fidelity.md lists every AWS behaviour the project relies on and how
the local stack treats it.

Names are imported on first use, so that the pure modules can be imported without moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wslocal.emulator.iam.endpoint import AUTHORIZE_PATH
    from wslocal.emulator.iam.moto_hook import install
    from wslocal.emulator.iam.signed import ADMIN_CREDENTIALS

__all__ = ["ADMIN_CREDENTIALS", "AUTHORIZE_PATH", "install", "wsgi_middleware"]


def wsgi_middleware(app: Any) -> Any:
    """`app` with `POST /_wslocal/iam/authorize` (endpoint.py) in front of it."""
    from wslocal.emulator.iam.endpoint import wsgi_middleware as middleware
    from wslocal.emulator.iam.moto_state import MotoLookup
    from wslocal.emulator.iam.signed import decide_signed

    return middleware(app, MotoLookup, decide_signed)


def __getattr__(name: str) -> Any:
    if name == "AUTHORIZE_PATH":
        from wslocal.emulator.iam.endpoint import AUTHORIZE_PATH

        return AUTHORIZE_PATH
    if name == "install":
        from wslocal.emulator.iam.moto_hook import install

        return install
    if name == "ADMIN_CREDENTIALS":
        from wslocal.emulator.iam.signed import ADMIN_CREDENTIALS

        return ADMIN_CREDENTIALS
    raise AttributeError(f"module 'wslocal.emulator.iam' has no attribute {name!r}")
