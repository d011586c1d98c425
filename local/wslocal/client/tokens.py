"""Tokens on the client's side: minting a development token from a key (a secret, a
Secrets Manager secret or a key file), and explaining a refused handshake from the client's
own token (read WITHOUT verification, only for its ``exp``)."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from wslocal.devtoken import DEFAULT_TTL_SECONDS, mint_token, read_secret, unverified_claims

__all__ = ["TokenRecipe", "explain_rejection", "token_expiry", "utc"]


def utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class TokenRecipe:
    """How to mint a development token: the key (exactly one of ``secret``, ``secret_arn``,
    ``key_file``) and the claims. ``mint()`` raises ValueError for a key that does not fit
    the algorithm or cannot be read, and botocore's errors for a secret it cannot read."""

    sub: str
    secret: str | None = None
    secret_arn: str | None = None
    key_file: str | None = None
    alg: str = "HS256"
    kid: str | None = None
    session: str | None = None
    ttl: int = DEFAULT_TTL_SECONDS
    iss: str | None = None
    aud: str | None = None

    def key(self) -> str:
        if (self.alg == "HS256") == (self.key_file is not None):
            raise ValueError("--key-file goes with --alg RS256/ES256, --secret(-arn) with HS256")
        if self.key_file is not None:
            try:
                return Path(self.key_file).read_text()
            except OSError as err:
                raise ValueError(f"cannot read --key-file: {err.strerror}") from None
        if self.secret is not None:
            return self.secret
        return read_secret(str(self.secret_arn))

    def mint(self) -> str:
        return mint_token(
            self.key(),
            sub=self.sub,
            session_id=self.session,
            ttl_seconds=self.ttl,
            issuer=self.iss,
            audience=self.aud,
            algorithm=self.alg,
            kid=self.kid or (Path(self.key_file).stem if self.key_file else None),
        )


def token_expiry(token: str | None) -> float | None:
    """The token's ``exp`` (read WITHOUT verifying the token), None when it has none."""
    if not token:
        return None
    try:
        exp = unverified_claims(token).get("exp")
    except ValueError:
        return None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def explain_rejection(status: int, token: str | None, now: float | None = None) -> str:
    """Why a handshake was most likely refused, from its status and the client's own token."""
    now = time.time() if now is None else now
    if status == 401:
        if not token:
            return "HTTP 401: no token was sent"
        try:
            unverified_claims(token)
        except ValueError:
            return "HTTP 401: the token is not a JWT"
        exp = token_expiry(token)
        if exp is not None and exp <= now:
            return (
                f"HTTP 401: the token expired at {utc(exp)} ({now - exp:.0f} s ago); mint a new one"
            )
        until = f" (it expires at {utc(exp)})" if exp is not None else ""
        return (
            f"HTTP 401: the token was refused although it has not expired{until}: "
            "a wrong key, issuer, audience or algorithm"
        )
    if status == 403:
        return (
            "HTTP 403: the token is valid but this connection is not allowed (the backend "
            "refused this user or session, the query's sessionId contradicts the token, or "
            "the source address is not allowed)"
        )
    if status == 429:
        return "HTTP 429: throttled"
    return f"HTTP {status}"
