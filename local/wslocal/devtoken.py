"""Development JWTs for the local stack: mint, verify, and read the signing secret.

The local stack signs with HS256 and a secret kept in the emulator's Secrets Manager, the same
secret the deployed authorizer reads through ``JWT_SECRET_ARN``. These helpers are for local
development and tests only: a production token issuer lives in the application's own
identity service.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import jwt

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
class TokenVerifier:
    """Verifies HS256 tokens the way the deployed authorizer does (signature, exp, nbf, iss, aud).

    ``user_claim`` and ``session_claim`` mirror ``JWT_USER_CLAIM`` / ``JWT_SESSION_CLAIM``.
    With ``jwks_client`` the key is the JWKS key the token's ``kid`` names (``algorithms`` then
    lists asymmetric ones) and ``secret`` is unused; ``jwt.PyJWKClientConnectionError`` means
    the key set could not be fetched (an unknown ``kid`` is an invalid token).
    """

    secret: str
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30
    user_claim: str = "sub"
    session_claim: str = "sessionId"
    algorithms: tuple[str, ...] = (ALGORITHM,)
    jwks_client: jwt.PyJWKClient | None = None

    def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims; raise ``jwt.InvalidTokenError`` on any defect.

        A token without a non-empty string user claim is invalid.
        """
        required = ["exp", self.user_claim]
        if self.issuer is not None:
            required.append("iss")
        if self.audience is not None:
            required.append("aud")
        key: Any = self.secret
        if self.jwks_client is not None:
            try:
                key = self.jwks_client.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientConnectionError:
                raise  # the key set is out of reach: not the token's fault
            except jwt.PyJWKClientError as err:
                raise jwt.InvalidTokenError("no served key has this kid") from err
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(self.algorithms),
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway_seconds,
            options={"require": required, "verify_aud": self.audience is not None},
        )
        user = claims.get(self.user_claim)
        if not isinstance(user, str) or not user:
            raise jwt.InvalidTokenError(f"claim {self.user_claim!r} is not a non-empty string")
        session = claims.get(self.session_claim)
        if session is not None and not isinstance(session, str):
            raise jwt.InvalidTokenError(f"claim {self.session_claim!r} is not a string")
        return claims


def read_secret(secret_id: str) -> str:
    """Read a SecretString from Secrets Manager (endpoint from ``AWS_ENDPOINT_URL``)."""
    client = boto3.client("secretsmanager")
    answer = client.get_secret_value(SecretId=secret_id)
    value = answer.get("SecretString")
    if not value:
        raise ValueError(f"secret {secret_id} has no SecretString")
    return value
