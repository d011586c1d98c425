"""The app's settings, from the environment App Runner gives the container (examples/app-runner
main.tf sets exactly these)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A variable is missing or unusable: the app does not start."""


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required")
    return value


@dataclass(frozen=True)
class Settings:
    connections_table: str
    callback_url: str  # the stage's @connections base URL (boto3's endpoint_url)
    signing_secret_arn: str  # the key the handler signs its requests with
    key_ttl_seconds: float = (
        300.0  # at most the module's backend.request_signing.key_refresh_seconds
    )
    redis_url: str | None = None  # rediss:// on AWS (the session store)
    redis_username: str | None = None
    redis_auth: str = "none"  # iam (ElastiCache IAM authentication) or none
    redis_cache_name: str | None = None  # the replication group id, for IAM tokens
    region: str | None = None
    validate_path: str = "/api/labs/session/{sessionId}/validate"
    message_path: str = "/api/ws/message"
    disconnect_path: str = "/api/ws/disconnect"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        auth = (env.get("REDIS_AUTH") or "none").strip().lower()
        if auth not in ("iam", "none"):
            raise SettingsError(f"REDIS_AUTH must be iam or none, got {auth!r}")
        if auth == "iam" and not (env.get("REDIS_CACHE_NAME") and env.get("REDIS_USERNAME")):
            raise SettingsError("REDIS_AUTH=iam needs REDIS_CACHE_NAME and REDIS_USERNAME")
        try:
            ttl = float(env.get("SIGNING_KEY_TTL_SECONDS") or 300)
        except ValueError:
            raise SettingsError("SIGNING_KEY_TTL_SECONDS must be a number of seconds") from None
        if not 0 < ttl <= 3600:
            raise SettingsError("SIGNING_KEY_TTL_SECONDS must be greater than 0 and at most 3600")
        return cls(
            connections_table=_require(env, "CONNECTIONS_TABLE"),
            callback_url=_require(env, "CALLBACK_URL"),
            signing_secret_arn=_require(env, "BACKEND_SIGNING_SECRET_ARN"),
            key_ttl_seconds=ttl,
            redis_url=env.get("REDIS_URL") or None,
            redis_username=env.get("REDIS_USERNAME") or None,
            redis_auth=auth,
            redis_cache_name=env.get("REDIS_CACHE_NAME") or None,
            region=env.get("AWS_REGION") or None,
            validate_path=env.get("BACKEND_VALIDATE_PATH") or cls.validate_path,
            message_path=env.get("BACKEND_MESSAGE_PATH") or cls.message_path,
            disconnect_path=env.get("BACKEND_DISCONNECT_PATH") or cls.disconnect_path,
        )
