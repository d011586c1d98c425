"""Settings read once from the environment into frozen dataclasses.

The names are exactly those Terraform sets (docs/design.md, "Environment contract").
An empty variable counts as unset. A bad value raises :class:`SettingsError` when the
function starts, so a misconfigured deployment fails loudly instead of answering requests.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "MAX_CONNECTION_SECONDS",
    "MAX_MESSAGE_BYTES",
    "AuthorizerSettings",
    "HandlerSettings",
    "SettingsError",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# API Gateway ends an integration after 29 s; a backend call must end well before.
MAX_BACKEND_TIMEOUT_SECONDS = 25.0
MAX_LEEWAY_SECONDS = 300
# How often the handler re-reads its request-signing key (and how old a new AWSCURRENT must
# be before it signs with it): BACKEND_SIGNING_KEY_REFRESH_SECONDS, Terraform's
# backend.request_signing.key_refresh_seconds.
DEFAULT_KEY_REFRESH_SECONDS = 300
KEY_REFRESH_SECONDS_RANGE = (1, 3600)
# API Gateway closes every connection after 2 hours: a record expires (DynamoDB TTL) that
# long after its connect, never sooner, so a live connection always has its record.
MAX_CONNECTION_SECONDS = 2 * 3600
# API Gateway's largest WebSocket message (frame payload), both ways: a client's message,
# the backend's reply sent back to it, and a push through @connections.
MAX_MESSAGE_BYTES = 128 * 1024

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """An environment variable is missing or holds a value the function cannot use."""


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _require(env: Mapping[str, str], name: str) -> str:
    value = _get(env, name)
    if value is None:
        raise SettingsError(f"{name} is required and must not be empty")
    return value


def _log_level(env: Mapping[str, str]) -> int:
    raw = (_get(env, "LOG_LEVEL") or "INFO").upper()
    if raw not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    level: int = logging.getLevelNamesMapping()[raw]
    return level


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, high: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and 0 < value <= high):
        raise SettingsError(f"{name} must be greater than 0 and at most {high:g}, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an http:// or https:// URL with a host, got {raw!r}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must not carry a query string or fragment")
    return raw


def _path(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name) or default
    if not value.startswith("/"):
        raise SettingsError(f"{name} must start with '/', got {value!r}")
    if "?" in value or "#" in value:
        # A path only, as Terraform requires: a fragment is never sent, and {sessionId} is
        # encoded as a path segment, not as a query value.
        raise SettingsError(f"{name} must be a path only, without '?' or '#', got {value!r}")
    return value


def _algorithms(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _get(env, "JWT_ALGORITHMS") or "HS256"
    names: list[str] = []
    for item in raw.split(","):
        name = item.strip()
        if not name:
            continue
        if name not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS:
            allowed = " ".join(sorted(HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS))
            raise SettingsError(f"JWT_ALGORITHMS: {name!r} is not one of {allowed}")
        if name not in names:
            names.append(name)
    if not names:
        raise SettingsError("JWT_ALGORITHMS lists no algorithm")
    hmac = [n for n in names if n in HMAC_ALGORITHMS]
    if hmac and len(hmac) != len(names):
        raise SettingsError(
            "JWT_ALGORITHMS must not mix HMAC (HS*) and asymmetric algorithms (key-confusion guard)"
        )
    return tuple(names)


def _networks(env: Mapping[str, str]) -> tuple[Network, ...]:
    raw = _get(env, "ALLOWED_SOURCE_CIDRS")
    if raw is None:
        return ()
    networks: list[Network] = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise SettingsError(f"ALLOWED_SOURCE_CIDRS: {text!r} is not a CIDR block") from None
    if not networks:
        raise SettingsError("ALLOWED_SOURCE_CIDRS is set but lists no CIDR block")
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class AuthorizerSettings:
    """What the REQUEST authorizer needs to verify a token and decide."""

    algorithms: tuple[str, ...] = ("HS256",)
    secret_arn: str | None = None
    secret_parameter: str | None = None
    secret_json_key: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30
    user_claim: str = "sub"
    session_claim: str = "sessionId"
    allowed_source_cidrs: tuple[Network, ...] = ()
    metrics_namespace: str = "WebSocketBridge"
    metrics_service: str = "ws-bridge"
    log_level: int = logging.INFO

    @property
    def uses_hmac(self) -> bool:
        return self.algorithms[0] in HMAC_ALGORITHMS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthorizerSettings:
        env = os.environ if env is None else env
        algorithms = _algorithms(env)
        secret_arn = _get(env, "JWT_SECRET_ARN")
        secret_parameter = _get(env, "JWT_SECRET_PARAMETER")
        jwks_url = _get(env, "JWT_JWKS_URL")
        if algorithms[0] in HMAC_ALGORITHMS:
            if (secret_arn is None) == (secret_parameter is None):
                raise SettingsError(
                    "HMAC algorithms need exactly one of JWT_SECRET_ARN or JWT_SECRET_PARAMETER"
                )
            if jwks_url is not None:
                raise SettingsError(
                    "JWT_JWKS_URL is set but JWT_ALGORITHMS lists only HMAC algorithms"
                )
        else:
            if jwks_url is None:
                raise SettingsError("asymmetric algorithms in JWT_ALGORITHMS need JWT_JWKS_URL")
            if secret_arn is not None or secret_parameter is not None:
                raise SettingsError(
                    "JWT_SECRET_ARN/JWT_SECRET_PARAMETER are set but JWT_ALGORITHMS lists "
                    "only asymmetric algorithms"
                )
            jwks_url = _http_url("JWT_JWKS_URL", jwks_url)
        return cls(
            algorithms=algorithms,
            secret_arn=secret_arn,
            secret_parameter=secret_parameter,
            secret_json_key=_get(env, "JWT_SECRET_JSON_KEY"),
            jwks_url=jwks_url,
            issuer=_get(env, "JWT_ISSUER"),
            audience=_get(env, "JWT_AUDIENCE"),
            leeway_seconds=_int(env, "JWT_LEEWAY_SECONDS", 30, 0, MAX_LEEWAY_SECONDS),
            user_claim=_get(env, "JWT_USER_CLAIM") or "sub",
            session_claim=_get(env, "JWT_SESSION_CLAIM") or "sessionId",
            allowed_source_cidrs=_networks(env),
            metrics_namespace=_get(env, "METRICS_NAMESPACE") or "WebSocketBridge",
            metrics_service=_get(env, "METRICS_SERVICE") or "ws-bridge",
            log_level=_log_level(env),
        )


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """What the connection handler needs: the table and the backend."""

    connections_table: str
    backend_url: str
    backend_validate_path: str = "/api/labs/session/{sessionId}/validate"
    backend_message_path: str = "/api/ws/message"
    backend_disconnect_path: str = "/api/ws/disconnect"
    backend_timeout_seconds: float = 10.0
    backend_fail_open: bool = False
    disconnect_timeout_seconds: float = 2.0
    backend_signing_secret_arn: str | None = None
    backend_signing_key_refresh_seconds: int = DEFAULT_KEY_REFRESH_SECONDS
    token_expiry_enforced: bool = True
    metrics_namespace: str = "WebSocketBridge"
    metrics_service: str = "ws-bridge"
    log_level: int = logging.INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandlerSettings:
        env = os.environ if env is None else env
        backend_url = _http_url("BACKEND_URL", _require(env, "BACKEND_URL")).rstrip("/")
        return cls(
            connections_table=_require(env, "CONNECTIONS_TABLE"),
            backend_url=backend_url,
            backend_validate_path=_path(
                env, "BACKEND_VALIDATE_PATH", "/api/labs/session/{sessionId}/validate"
            ),
            backend_message_path=_path(env, "BACKEND_MESSAGE_PATH", "/api/ws/message"),
            backend_disconnect_path=_path(env, "BACKEND_DISCONNECT_PATH", "/api/ws/disconnect"),
            backend_timeout_seconds=_seconds(
                env, "BACKEND_TIMEOUT_SECONDS", 10.0, MAX_BACKEND_TIMEOUT_SECONDS
            ),
            backend_fail_open=_bool(env, "BACKEND_FAIL_OPEN", False),
            disconnect_timeout_seconds=_seconds(
                env, "DISCONNECT_TIMEOUT_SECONDS", 2.0, MAX_BACKEND_TIMEOUT_SECONDS
            ),
            backend_signing_secret_arn=_get(env, "BACKEND_SIGNING_SECRET_ARN"),
            backend_signing_key_refresh_seconds=_int(
                env,
                "BACKEND_SIGNING_KEY_REFRESH_SECONDS",
                DEFAULT_KEY_REFRESH_SECONDS,
                *KEY_REFRESH_SECONDS_RANGE,
            ),
            token_expiry_enforced=_bool(env, "TOKEN_EXPIRY_ENFORCED", True),
            metrics_namespace=_get(env, "METRICS_NAMESPACE") or "WebSocketBridge",
            metrics_service=_get(env, "METRICS_SERVICE") or "ws-bridge",
            log_level=_log_level(env),
        )
