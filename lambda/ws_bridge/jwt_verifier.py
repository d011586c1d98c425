"""Verifying a JWT with PyJWT.

HMAC keys come from Secrets Manager or an SSM SecureString, read once per container;
RSA/EC keys come from a JWKS URL through :class:`jwt.PyJWKClient` (key set cached for five
minutes). The allowed algorithms are a fixed list, HMAC and asymmetric never mixed, the
signature is always verified, ``exp`` is required, ``nbf``/``iss``/``aud`` are enforced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jwt
from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws
from ws_bridge.settings import AuthorizerSettings

__all__ = [
    "MAX_TOKEN_BYTES",
    "InvalidTokenError",
    "KeyUnavailableError",
    "TokenVerifier",
    "load_hmac_secret",
]

MAX_TOKEN_BYTES = 8 * 1024
JWKS_TIMEOUT_SECONDS = 3.0
JWKS_CACHE_SECONDS = 300.0

type Claims = dict[str, Any]


class InvalidTokenError(Exception):
    """The token is missing, malformed, forged, expired or otherwise unacceptable (401).

    ``reason`` is a short code safe to log; the token itself is never part of it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeyUnavailableError(Exception):
    """The verification key could not be obtained or is unusable (a fault on our side)."""


def load_hmac_secret(
    settings: AuthorizerSettings,
    secretsmanager: Callable[[], Any] = aws.secretsmanager,
    ssm: Callable[[], Any] = aws.ssm,
) -> bytes:
    """Read the HMAC key from Secrets Manager (``JWT_SECRET_ARN``) or SSM
    (``JWT_SECRET_PARAMETER``, decrypted)."""
    try:
        if settings.secret_arn is not None:
            answer = secretsmanager().get_secret_value(SecretId=settings.secret_arn)
            secret = answer.get("SecretString")
            value = secret.encode() if isinstance(secret, str) else answer.get("SecretBinary")
        elif settings.secret_parameter is not None:
            answer = ssm().get_parameter(Name=settings.secret_parameter, WithDecryption=True)
            value = str(answer["Parameter"]["Value"]).encode()
        else:
            raise KeyUnavailableError("no HMAC secret source is configured")
    except (ClientError, BotoCoreError) as exc:
        raise KeyUnavailableError(f"reading the HMAC secret failed: {type(exc).__name__}") from exc
    if not isinstance(value, bytes) or not value:
        raise KeyUnavailableError("the HMAC secret is empty")
    return value


class TokenVerifier:
    """Verifies tokens for one :class:`AuthorizerSettings`; keeps its key for the container.

    ``secret_loader`` returns the HMAC key; it runs on first use and again only after it
    failed. ``jwks_client`` is built lazily from ``JWT_JWKS_URL`` unless given.
    """

    def __init__(
        self,
        settings: AuthorizerSettings,
        secret_loader: Callable[[AuthorizerSettings], bytes] = load_hmac_secret,
        jwks_client: jwt.PyJWKClient | None = None,
    ) -> None:
        self._settings = settings
        self._secret_loader = secret_loader
        self._secret: bytes | None = None
        self._jwks_client = jwks_client

    def _hmac_key(self) -> bytes:
        if self._secret is None:
            self._secret = self._secret_loader(self._settings)
        return self._secret

    def _jwks_key(self, token: str, header: Mapping[str, Any]) -> jwt.PyJWK:
        if self._jwks_client is None:
            if self._settings.jwks_url is None:
                raise KeyUnavailableError("no JWKS URL is configured")
            self._jwks_client = jwt.PyJWKClient(
                self._settings.jwks_url,
                cache_jwk_set=True,
                lifespan=JWKS_CACHE_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("missing_kid")
        try:
            # Fetch (or reuse) the key set first: a failure here is ours, not the token's.
            self._jwks_client.get_jwk_set()
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError, ValueError) as exc:
            # ValueError: PyJWKClient lets a body that is not JSON through as JSONDecodeError.
            raise KeyUnavailableError(f"JWKS unavailable: {type(exc).__name__}") from exc
        try:
            return self._jwks_client.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, ValueError) as exc:
            raise KeyUnavailableError("JWKS refresh failed") from exc
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
            raise InvalidTokenError("unknown_key") from exc

    def verify(self, token: str) -> Claims:
        """Return the verified claims or raise :class:`InvalidTokenError`
        (:class:`KeyUnavailableError` when the key cannot be had)."""
        settings = self._settings
        if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
            raise InvalidTokenError("too_large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("malformed") from exc
        if header.get("alg") not in settings.algorithms:
            raise InvalidTokenError("algorithm_not_allowed")

        key: bytes | jwt.PyJWK
        key = self._hmac_key() if settings.uses_hmac else self._jwks_key(token, header)
        try:
            claims: Claims = jwt.decode(
                token,
                key=key,
                algorithms=list(settings.algorithms),
                issuer=settings.issuer,
                audience=settings.audience,
                leeway=settings.leeway_seconds,
                options={
                    "verify_signature": True,
                    "require": ["exp", settings.user_claim],
                    # Without JWT_AUDIENCE the audience is not checked (docs/design.md);
                    # PyJWT would otherwise refuse every token that carries one.
                    "verify_aud": settings.audience is not None,
                    # RFC 7518 §3.2: an HMAC key shorter than the hash is not acceptable.
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidKeyError as exc:
            if settings.uses_hmac:
                raise KeyUnavailableError(
                    "the HMAC secret is shorter than RFC 7518 §3.2 allows"
                ) from exc
            raise InvalidTokenError("unusable_key") from exc
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidTokenError("not_yet_valid") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidTokenError("wrong_issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidTokenError("wrong_audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError(f"missing_claim:{exc.claim}") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError("bad_signature") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise InvalidTokenError("algorithm_not_allowed") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("invalid") from exc
        return claims
