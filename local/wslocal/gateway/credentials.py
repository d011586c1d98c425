"""Each function's own credentials: its execution role, assumed as Lambda assumes it.

Lambda runs a function with temporary credentials of its execution role
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so every AWS call
the function makes is held to that role's policies. The gateway does the same with
`sts:AssumeRole` on the control plane (session name: the function's name, as on Lambda),
and assumes the role again before the credentials expire; the local emulator evaluates IAM
for the credentials it issues (`wslocal.emulator.iam`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["CredentialsError", "RoleCredentials", "assume_role"]

# One hour, as Lambda's own sessions for a function's role are short-lived too.
SESSION_SECONDS = 3600


class CredentialsError(Exception):
    """The role cannot be assumed; the message names the function and the role."""


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def _assume(session: boto3.session.Session, role_arn: str, session_name: str) -> RoleCredentials:
    client: Any = session.client("sts")
    issued = client.assume_role(
        RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=SESSION_SECONDS
    )["Credentials"]
    expiration = issued.get("Expiration")
    expires_at = (
        expiration.timestamp()
        if hasattr(expiration, "timestamp")
        else time.time() + SESSION_SECONDS
    )
    return RoleCredentials(
        access_key_id=str(issued["AccessKeyId"]),
        secret_access_key=str(issued["SecretAccessKey"]),
        session_token=str(issued["SessionToken"]),
        expires_at=float(expires_at),
    )


async def assume_role(
    session: boto3.session.Session | None, role_arn: str, function_name: str
) -> RoleCredentials:
    """Temporary credentials of `role_arn` for `function_name`. Raises CredentialsError."""
    if not role_arn:
        raise CredentialsError(f"function {function_name} has no execution role")
    try:
        return await asyncio.to_thread(
            _assume, session or boto3.session.Session(), role_arn, function_name
        )
    except (BotoCoreError, ClientError) as exc:
        raise CredentialsError(
            f"function {function_name}: cannot assume its role {role_arn}: {exc}"
        ) from exc
