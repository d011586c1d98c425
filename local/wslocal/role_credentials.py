"""A local backend process running with a role's temporary credentials, as a backend on AWS
runs with its instance or task role (the emulator evaluates IAM for them)."""

from __future__ import annotations

import logging

__all__ = ["assume_backend_role"]

LOGGER = logging.getLogger("wslocal.role_credentials")


def assume_backend_role(role_arn: str) -> None:
    """Make this process's boto3 clients use temporary credentials of `role_arn`
    (sts:AssumeRole, renewed before they expire), as a backend on AWS runs with its role."""
    import boto3
    import botocore.session
    from botocore.credentials import RefreshableCredentials

    sts = boto3.client("sts")

    def fetch() -> dict[str, str]:
        issued = sts.assume_role(RoleArn=role_arn, RoleSessionName="reference-backend")
        credentials = issued["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    session = botocore.session.get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(  # type: ignore[attr-defined]
        fetch(), fetch, "sts-assume-role"
    )
    boto3.setup_default_session(botocore_session=session)
    LOGGER.info("running as role %s", role_arn)
