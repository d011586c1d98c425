from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from types import ModuleType

import pytest

from ws_bridge.settings import AuthorizerSettings, HandlerSettings, SettingsError

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ws-bridge/jwt-AbCdEf"


def test_authorizer_defaults_with_a_secret_arn() -> None:
    settings = AuthorizerSettings.from_env({"JWT_SECRET_ARN": ARN})
    assert settings == AuthorizerSettings(secret_arn=ARN)
    assert settings.algorithms == ("HS256",)
    assert settings.leeway_seconds == 30
    assert settings.user_claim == "sub"
    assert settings.session_claim == "sessionId"
    assert settings.allowed_source_cidrs == ()
    assert settings.log_level == logging.INFO
    assert settings.uses_hmac


def test_authorizer_reads_every_variable() -> None:
    settings = AuthorizerSettings.from_env(
        {
            "JWT_ALGORITHMS": "RS256, ES256,RS256",
            "JWT_JWKS_URL": "https://issuer.example.com/.well-known/jwks.json",
            "JWT_ISSUER": "https://issuer.example.com/",
            "JWT_AUDIENCE": "labs",
            "JWT_LEEWAY_SECONDS": "5",
            "JWT_USER_CLAIM": "uid",
            "JWT_SESSION_CLAIM": "sid",
            "ALLOWED_SOURCE_CIDRS": "10.0.0.0/8, 2001:db8::/32",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.algorithms == ("RS256", "ES256")
    assert not settings.uses_hmac
    assert settings.issuer == "https://issuer.example.com/"
    assert settings.audience == "labs"
    assert settings.leeway_seconds == 5
    assert (settings.user_claim, settings.session_claim) == ("uid", "sid")
    assert settings.allowed_source_cidrs == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert settings.log_level == logging.DEBUG


def test_empty_variables_count_as_unset() -> None:
    settings = AuthorizerSettings.from_env(
        {"JWT_SECRET_PARAMETER": "/jwt", "JWT_SECRET_ARN": "", "JWT_ISSUER": " ", "LOG_LEVEL": ""}
    )
    assert settings.secret_arn is None
    assert settings.secret_parameter == "/jwt"
    assert settings.issuer is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWT_ALGORITHMS": "none", "JWT_SECRET_ARN": ARN}, "'none' is not one of"),
        ({"JWT_ALGORITHMS": "HS256,RS256", "JWT_SECRET_ARN": ARN}, "must not mix"),
        ({"JWT_ALGORITHMS": " , "}, "lists no algorithm"),
        ({}, "exactly one of JWT_SECRET_ARN or JWT_SECRET_PARAMETER"),
        ({"JWT_SECRET_ARN": ARN, "JWT_SECRET_PARAMETER": "/p"}, "exactly one of"),
        ({"JWT_SECRET_ARN": ARN, "JWT_JWKS_URL": "https://x/jwks"}, "only HMAC"),
        ({"JWT_ALGORITHMS": "RS256"}, "need JWT_JWKS_URL"),
        (
            {"JWT_ALGORITHMS": "ES256", "JWT_JWKS_URL": "https://x/j", "JWT_SECRET_ARN": ARN},
            "only asymmetric",
        ),
        ({"JWT_ALGORITHMS": "RS256", "JWT_JWKS_URL": "file:///etc/passwd"}, "http:// or https://"),
        ({"JWT_SECRET_ARN": ARN, "JWT_LEEWAY_SECONDS": "ten"}, "whole number"),
        ({"JWT_SECRET_ARN": ARN, "JWT_LEEWAY_SECONDS": "-1"}, "between 0 and 300"),
        ({"JWT_SECRET_ARN": ARN, "JWT_LEEWAY_SECONDS": "3600"}, "between 0 and 300"),
        ({"JWT_SECRET_ARN": ARN, "ALLOWED_SOURCE_CIDRS": "10.0.0.0/33"}, "not a CIDR block"),
        ({"JWT_SECRET_ARN": ARN, "ALLOWED_SOURCE_CIDRS": ","}, "lists no CIDR block"),
        ({"JWT_SECRET_ARN": ARN, "LOG_LEVEL": "TRACE"}, "LOG_LEVEL must be one of"),
    ],
)
def test_authorizer_rejects_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        AuthorizerSettings.from_env(env)


HANDLER_ENV = {"CONNECTIONS_TABLE": "connections", "BACKEND_URL": "https://backend.example.com/"}


def test_handler_defaults() -> None:
    settings = HandlerSettings.from_env(HANDLER_ENV)
    assert settings == HandlerSettings(
        connections_table="connections", backend_url="https://backend.example.com"
    )
    assert settings.backend_validate_path == "/api/labs/session/{sessionId}/validate"
    assert settings.backend_message_path == "/api/ws/message"
    assert settings.backend_disconnect_path == "/api/ws/disconnect"
    assert settings.backend_timeout_seconds == 10.0
    assert settings.backend_fail_open is False
    assert settings.disconnect_timeout_seconds == 2.0
    assert settings.backend_signing_key_refresh_seconds == 300


def test_handler_reads_every_variable() -> None:
    settings = HandlerSettings.from_env(
        {
            **HANDLER_ENV,
            "BACKEND_VALIDATE_PATH": "/v/{sessionId}",
            "BACKEND_MESSAGE_PATH": "/m",
            "BACKEND_DISCONNECT_PATH": "/d",
            "BACKEND_TIMEOUT_SECONDS": "2.5",
            "BACKEND_FAIL_OPEN": "TRUE",
            "DISCONNECT_TIMEOUT_SECONDS": "1",
            "BACKEND_SIGNING_KEY_REFRESH_SECONDS": "15",
            "LOG_LEVEL": "WARNING",
        }
    )
    assert settings.backend_signing_key_refresh_seconds == 15
    assert settings.backend_validate_path == "/v/{sessionId}"
    assert (settings.backend_message_path, settings.backend_disconnect_path) == ("/m", "/d")
    assert settings.backend_timeout_seconds == 2.5
    assert settings.backend_fail_open is True
    assert settings.disconnect_timeout_seconds == 1.0
    assert settings.log_level == logging.WARNING


def test_the_record_lifetime_is_not_configurable() -> None:
    # A TTL shorter than the connection's life would stop pushes to live connections.
    assert not hasattr(HandlerSettings, "connection_ttl_seconds")
    settings = HandlerSettings.from_env({**HANDLER_ENV, "CONNECTION_TTL_SECONDS": "60"})
    assert settings == HandlerSettings.from_env(HANDLER_ENV)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKEND_URL": "https://b"}, "CONNECTIONS_TABLE is required"),
        ({"CONNECTIONS_TABLE": "t"}, "BACKEND_URL is required"),
        ({**HANDLER_ENV, "BACKEND_URL": "backend.example.com"}, "http:// or https://"),
        ({**HANDLER_ENV, "BACKEND_URL": "https://b/?x=1"}, "query string"),
        ({**HANDLER_ENV, "BACKEND_MESSAGE_PATH": "api/ws/message"}, "must start with '/'"),
        ({**HANDLER_ENV, "BACKEND_TIMEOUT_SECONDS": "0"}, "greater than 0 and at most 25"),
        ({**HANDLER_ENV, "BACKEND_TIMEOUT_SECONDS": "29"}, "at most 25"),
        ({**HANDLER_ENV, "BACKEND_TIMEOUT_SECONDS": "nan"}, "at most 25"),
        ({**HANDLER_ENV, "BACKEND_TIMEOUT_SECONDS": "soon"}, "number of seconds"),
        ({**HANDLER_ENV, "DISCONNECT_TIMEOUT_SECONDS": "-2"}, "greater than 0"),
        ({**HANDLER_ENV, "BACKEND_FAIL_OPEN": "yes"}, "true or false"),
        ({**HANDLER_ENV, "BACKEND_SIGNING_KEY_REFRESH_SECONDS": "0"}, "between 1 and 3600"),
        ({**HANDLER_ENV, "BACKEND_SIGNING_KEY_REFRESH_SECONDS": "3601"}, "between 1 and 3600"),
        ({**HANDLER_ENV, "BACKEND_SIGNING_KEY_REFRESH_SECONDS": "1.5"}, "whole number"),
        (
            {**HANDLER_ENV, "BACKEND_VALIDATE_PATH": "/v?id={sessionId}"},
            "BACKEND_VALIDATE_PATH must be a path only, without '\\?' or '#'",
        ),
        ({**HANDLER_ENV, "BACKEND_MESSAGE_PATH": "/m?x=1"}, "BACKEND_MESSAGE_PATH must be a path"),
        ({**HANDLER_ENV, "BACKEND_DISCONNECT_PATH": "/d#end"}, "BACKEND_DISCONNECT_PATH must be"),
    ],
)
def test_handler_rejects_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        HandlerSettings.from_env(env)


def test_bad_settings_fail_the_cold_start(
    load_handler: Callable[..., ModuleType], load_authorizer: Callable[..., ModuleType]
) -> None:
    with pytest.raises(SettingsError, match="CONNECTIONS_TABLE"):
        load_handler(BACKEND_URL="https://backend.example.com")
    with pytest.raises(SettingsError, match="must not mix"):
        load_authorizer(JWT_ALGORITHMS="HS256,ES256", JWT_SECRET_ARN=ARN)


def test_asymmetric_algorithms_without_cryptography_fail_the_cold_start(
    load_authorizer: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jwt.algorithms

    monkeypatch.setattr(jwt.algorithms, "has_crypto", False)
    with pytest.raises(SettingsError, match="jwt-crypto-layer"):
        load_authorizer(JWT_ALGORITHMS="RS256", JWT_JWKS_URL="https://id.example.com/jwks")
    # HMAC needs no cryptography
    hmac_only = load_authorizer(JWT_ALGORITHMS="HS256", JWT_JWKS_URL="", JWT_SECRET_ARN=ARN)
    assert hmac_only.SETTINGS.uses_hmac
