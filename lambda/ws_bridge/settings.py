"""Settings read once from the environment into frozen dataclasses.

The names, defaults and bounds are the contract's (contract/contract.json, "environment":
exactly what Terraform sets; ``ws_bridge_backend.contract`` is its generated Python copy).
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

from ws_bridge_backend import contract
from ws_bridge_backend.contract import EnvVar

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "MAX_CONNECTION_SECONDS",
    "MAX_MESSAGE_BYTES",
    "AuthorizerSettings",
    "FanoutSettings",
    "GaugeSettings",
    "HandlerSettings",
    "SettingsError",
]

HMAC_ALGORITHMS = frozenset(contract.HMAC_ALGORITHMS)
ASYMMETRIC_ALGORITHMS = frozenset(contract.ASYMMETRIC_ALGORITHMS)
LOG_LEVELS = contract.LOG_LEVELS
AUTHORIZER_ENV = contract.AUTHORIZER_ENVIRONMENT
HANDLER_ENV = contract.CONNECTION_HANDLER_ENVIRONMENT
FANOUT_ENV = contract.FANOUT_WORKER_ENVIRONMENT
GAUGE_ENV = contract.CONNECTIONS_GAUGE_ENVIRONMENT
# API Gateway closes every connection after 2 hours: a record expires (DynamoDB TTL) that
# long after its connect, never sooner, so a live connection always has its record.
MAX_CONNECTION_SECONDS = contract.MAX_CONNECTION_SECONDS
# API Gateway's largest WebSocket message (frame payload), both ways: a client's message,
# the backend's reply sent back to it, and a push through @connections.
MAX_MESSAGE_BYTES = contract.MAX_MESSAGE_BYTES

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


def _text(env: Mapping[str, str], spec: EnvVar) -> str:
    return _get(env, spec.name) or str(spec.default)


def _log_level(env: Mapping[str, str], spec: EnvVar) -> int:
    raw = _text(env, spec).upper()
    if raw not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    level: int = logging.getLevelNamesMapping()[raw]
    return level


def _int(env: Mapping[str, str], spec: EnvVar) -> int:
    name, low, high = spec.name, int(spec.min or 0), int(spec.max or 0)
    raw = _get(env, name)
    if raw is None:
        return int(spec.default or 0)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _seconds(env: Mapping[str, str], spec: EnvVar) -> float:
    name, high = spec.name, float(spec.max or 0)
    raw = _get(env, name)
    if raw is None:
        return float(spec.default or 0)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and 0 < value <= high):
        raise SettingsError(f"{name} must be greater than 0 and at most {high:g}, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], spec: EnvVar) -> bool:
    name = spec.name
    raw = _get(env, name)
    if raw is None:
        return bool(spec.default)
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


def _backend_url(env: Mapping[str, str], spec: EnvVar) -> str:
    """https://, or http:// for the contract's local hosts only (as Terraform validates)."""
    raw = _http_url(spec.name, _require(env, spec.name))
    parts = urlsplit(raw)
    if parts.scheme not in contract.BACKEND_URL_SCHEMES and (
        parts.hostname not in contract.BACKEND_URL_HTTP_HOSTS
    ):
        hosts = ", ".join(contract.BACKEND_URL_HTTP_HOSTS)
        raise SettingsError(f"{spec.name} must be https:// (http:// only for {hosts}), got {raw!r}")
    return raw.rstrip("/")


def _path(env: Mapping[str, str], spec: EnvVar) -> str:
    name = spec.name
    value = _text(env, spec)
    if not value.startswith("/"):
        raise SettingsError(f"{name} must start with '/', got {value!r}")
    if "?" in value or "#" in value:
        # A path only, as Terraform requires: a fragment is never sent, and {sessionId} is
        # encoded as a path segment, not as a query value.
        raise SettingsError(f"{name} must be a path only, without '?' or '#', got {value!r}")
    return value


def _algorithms(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _text(env, AUTHORIZER_ENV["JWT_ALGORITHMS"])
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


def _defaults(table: Mapping[str, EnvVar]) -> dict[str, str | int | float | bool]:
    return {name: spec.default for name, spec in table.items() if spec.default is not None}


_A = _defaults(AUTHORIZER_ENV)
_H = _defaults(HANDLER_ENV)
_F = _defaults(FANOUT_ENV)


@dataclass(frozen=True, slots=True)
class AuthorizerSettings:
    """What the REQUEST authorizer needs to verify a token and decide."""

    algorithms: tuple[str, ...] = (str(_A["JWT_ALGORITHMS"]),)
    secret_arn: str | None = None
    secret_parameter: str | None = None
    secret_json_key: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = int(_A["JWT_LEEWAY_SECONDS"])
    user_claim: str = str(_A["JWT_USER_CLAIM"])
    session_claim: str = str(_A["JWT_SESSION_CLAIM"])
    allowed_source_cidrs: tuple[Network, ...] = ()
    metrics_namespace: str = str(_A["METRICS_NAMESPACE"])
    metrics_service: str = str(_A["METRICS_SERVICE"])
    log_level: int = logging.INFO

    @property
    def uses_hmac(self) -> bool:
        return self.algorithms[0] in HMAC_ALGORITHMS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthorizerSettings:
        env = os.environ if env is None else env
        spec = AUTHORIZER_ENV
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
            leeway_seconds=_int(env, spec["JWT_LEEWAY_SECONDS"]),
            user_claim=_text(env, spec["JWT_USER_CLAIM"]),
            session_claim=_text(env, spec["JWT_SESSION_CLAIM"]),
            allowed_source_cidrs=_networks(env),
            metrics_namespace=_text(env, spec["METRICS_NAMESPACE"]),
            metrics_service=_text(env, spec["METRICS_SERVICE"]),
            log_level=_log_level(env, spec["LOG_LEVEL"]),
        )


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """What the connection handler needs: the table and the backend."""

    connections_table: str
    backend_url: str
    subscriptions_table: str | None = None
    backend_validate_path: str = str(_H["BACKEND_VALIDATE_PATH"])
    backend_message_path: str = str(_H["BACKEND_MESSAGE_PATH"])
    backend_disconnect_path: str = str(_H["BACKEND_DISCONNECT_PATH"])
    backend_timeout_seconds: float = float(_H["BACKEND_TIMEOUT_SECONDS"])
    backend_fail_open: bool = bool(_H["BACKEND_FAIL_OPEN"])
    disconnect_timeout_seconds: float = float(_H["DISCONNECT_TIMEOUT_SECONDS"])
    backend_signing_secret_arn: str | None = None
    backend_signing_key_refresh_seconds: int = int(_H["BACKEND_SIGNING_KEY_REFRESH_SECONDS"])
    token_expiry_enforced: bool = bool(_H["TOKEN_EXPIRY_ENFORCED"])
    metrics_namespace: str = str(_H["METRICS_NAMESPACE"])
    metrics_service: str = str(_H["METRICS_SERVICE"])
    log_level: int = logging.INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandlerSettings:
        env = os.environ if env is None else env
        spec = HANDLER_ENV
        return cls(
            connections_table=_require(env, "CONNECTIONS_TABLE"),
            backend_url=_backend_url(env, spec["BACKEND_URL"]),
            subscriptions_table=_get(env, "SUBSCRIPTIONS_TABLE"),
            backend_validate_path=_path(env, spec["BACKEND_VALIDATE_PATH"]),
            backend_message_path=_path(env, spec["BACKEND_MESSAGE_PATH"]),
            backend_disconnect_path=_path(env, spec["BACKEND_DISCONNECT_PATH"]),
            backend_timeout_seconds=_seconds(env, spec["BACKEND_TIMEOUT_SECONDS"]),
            backend_fail_open=_bool(env, spec["BACKEND_FAIL_OPEN"]),
            disconnect_timeout_seconds=_seconds(env, spec["DISCONNECT_TIMEOUT_SECONDS"]),
            backend_signing_secret_arn=_get(env, "BACKEND_SIGNING_SECRET_ARN"),
            backend_signing_key_refresh_seconds=_int(
                env, spec["BACKEND_SIGNING_KEY_REFRESH_SECONDS"]
            ),
            token_expiry_enforced=_bool(env, spec["TOKEN_EXPIRY_ENFORCED"]),
            metrics_namespace=_text(env, spec["METRICS_NAMESPACE"]),
            metrics_service=_text(env, spec["METRICS_SERVICE"]),
            log_level=_log_level(env, spec["LOG_LEVEL"]),
        )


@dataclass(frozen=True, slots=True)
class FanoutSettings:
    """What the fan-out worker needs: the tables, the @connections endpoint, the queue."""

    connections_table: str
    subscriptions_table: str
    callback_url: str
    queue_url: str
    max_ids_per_message: int = int(_F["FANOUT_MAX_IDS_PER_MESSAGE"])
    concurrency: int = int(_F["FANOUT_CONCURRENCY"])
    max_attempts: int = int(_F["FANOUT_MAX_ATTEMPTS"])
    metrics_namespace: str = str(_F["METRICS_NAMESPACE"])
    metrics_service: str = str(_F["METRICS_SERVICE"])
    log_level: int = logging.INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FanoutSettings:
        env = os.environ if env is None else env
        spec = FANOUT_ENV
        return cls(
            connections_table=_require(env, "CONNECTIONS_TABLE"),
            subscriptions_table=_require(env, "SUBSCRIPTIONS_TABLE"),
            callback_url=_http_url("CALLBACK_URL", _require(env, "CALLBACK_URL")).rstrip("/"),
            queue_url=_http_url("FANOUT_QUEUE_URL", _require(env, "FANOUT_QUEUE_URL")),
            max_ids_per_message=_int(env, spec["FANOUT_MAX_IDS_PER_MESSAGE"]),
            concurrency=_int(env, spec["FANOUT_CONCURRENCY"]),
            max_attempts=_int(env, spec["FANOUT_MAX_ATTEMPTS"]),
            metrics_namespace=_text(env, spec["METRICS_NAMESPACE"]),
            metrics_service=_text(env, spec["METRICS_SERVICE"]),
            log_level=_log_level(env, spec["LOG_LEVEL"]),
        )


@dataclass(frozen=True, slots=True)
class GaugeSettings:
    """What the open-connections gauge needs: the table it counts, where the metric goes."""

    connections_table: str
    metrics_namespace: str = str(_F["METRICS_NAMESPACE"])
    metrics_service: str = str(_F["METRICS_SERVICE"])
    log_level: int = logging.INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GaugeSettings:
        env = os.environ if env is None else env
        spec = GAUGE_ENV
        return cls(
            connections_table=_require(env, "CONNECTIONS_TABLE"),
            metrics_namespace=_text(env, spec["METRICS_NAMESPACE"]),
            metrics_service=_text(env, spec["METRICS_SERVICE"]),
            log_level=_log_level(env, spec["LOG_LEVEL"]),
        )
