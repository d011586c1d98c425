"""Development JWTs for the local stack: mint, verify (with the authorizer's own code), and
read the signing secret.

The local stack signs with HS256 and a secret kept in the emulator's Secrets Manager, the same
secret the deployed authorizer reads through ``JWT_SECRET_ARN``. These helpers are for local
development and tests only: a production token issuer lives in the application's own
identity service.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import jwt

from ws_bridge.events import claim_identifier
from ws_bridge.jwt_verifier import InvalidTokenError, TokenVerifier
from ws_bridge.settings import AuthorizerSettings

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 3600


def mint_token(
    secret: str,
    *,
    sub: str,
    session_id: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    issuer: str | None = None,
    audience: str | None = None,
    now: int | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    algorithm: str = ALGORITHM,
    kid: str | None = None,
) -> str:
    """Return a JWT with ``sub``, ``sessionId``, ``iat``, ``exp`` (and ``iss``/``aud``).

    HS256 by default; with ``algorithm`` RS256/ES256, ``secret`` is the private key's PEM and
    ``kid`` names the key in the header.

    ``session_id=None`` leaves the ``sessionId`` claim out (the client then names the session in
    the query string). ``extra_claims`` are added last and may override any claim, which is how
    tests build expired, not-yet-valid or otherwise hostile tokens.
    """
    if not secret:
        raise ValueError("the signing secret is empty")
    if not sub:
        raise ValueError("sub is empty")
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": sub,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
    }
    if session_id is not None:
        claims["sessionId"] = session_id
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    if extra_claims:
        claims.update(extra_claims)
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers)


@dataclass(frozen=True)
class Identity:
    """Who a verified token names: the user, and the session when the token carries one."""

    user_id: str
    session_id: str | None
    claims: Mapping[str, Any]


def authorizer_settings(
    *,
    algorithms: Sequence[str] = (ALGORITHM,),
    secret_arn: str | None = None,
    jwks_url: str | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    leeway_seconds: int = 30,
    user_claim: str = "sub",
    session_claim: str = "sessionId",
) -> AuthorizerSettings:
    """The deployed authorizer's settings, from command-line values instead of its
    environment (``JWT_ALGORITHMS``, ``JWT_SECRET_ARN``, ``JWT_ISSUER`` ...)."""
    if not algorithms:
        raise ValueError("at least one algorithm is required")
    return AuthorizerSettings(
        algorithms=tuple(algorithms),
        secret_arn=secret_arn,
        jwks_url=jwks_url,
        issuer=issuer,
        audience=audience,
        leeway_seconds=leeway_seconds,
        user_claim=user_claim,
        session_claim=session_claim,
    )


class TokenCheck:
    """Verifies a token as the deployed authorizer does: ``ws_bridge``'s own
    ``TokenVerifier`` for the signature and claims, then the authorizer's rule for the user
    and session ids (a numeric ``sessionId`` claim is session ``"7"`` on both sides).

    ``identify`` raises ``ws_bridge.jwt_verifier.InvalidTokenError`` (its ``reason`` is the
    authorizer's) or ``KeyUnavailableError`` when the key cannot be had.
    """

    def __init__(self, settings: AuthorizerSettings, verifier: TokenVerifier | None = None):
        self.settings = settings
        self._verifier = verifier if verifier is not None else TokenVerifier(settings)

    @classmethod
    def with_secret(cls, secret: str | bytes, **settings: Any) -> TokenCheck:
        """HMAC with a key given here (tests, ``--jwt-secret``); `settings` as for
        ``authorizer_settings``."""
        key = secret.encode() if isinstance(secret, str) else secret
        if not key:
            raise ValueError("the signing secret is empty")
        config = authorizer_settings(**settings)
        return cls(config, TokenVerifier(config, secret_loader=lambda _settings: key))

    def identify(self, token: str) -> Identity:
        claims = self._verifier.verify(token)
        user_id = claim_identifier(claims.get(self.settings.user_claim))
        if user_id is None:
            raise InvalidTokenError("bad_user_claim")
        session_id: str | None = None
        if self.settings.session_claim in claims:
            session_id = claim_identifier(claims[self.settings.session_claim])
            if session_id is None:
                raise InvalidTokenError("bad_session_claim")
        return Identity(user_id, session_id, claims)


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's claims WITHOUT verifying anything (to read ``exp`` for a message);
    ``ValueError`` when it is not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as err:
        raise ValueError("not a JWT") from err
    if not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return claims


def read_secret(secret_id: str) -> str:
    """Read a SecretString from Secrets Manager (endpoint from ``AWS_ENDPOINT_URL``)."""
    client = boto3.client("secretsmanager")
    answer = client.get_secret_value(SecretId=secret_id)
    value = answer.get("SecretString")
    if not value:
        raise ValueError(f"secret {secret_id} has no SecretString")
    return value
