"""Verifying a JWT with PyJWT.

HMAC keys come from Secrets Manager (AWSCURRENT and, during a rotation, AWSPREVIOUS) or an SSM
SecureString, re-read every five minutes and once (at most every 30 s) when a signature does
not match, so a rotation reaches warm containers without refusing tokens signed either way;
RSA/EC keys come from a JWKS URL through :class:`jwt.PyJWKClient` (key set cached for five
minutes). The allowed algorithms are a fixed list, HMAC and asymmetric never mixed, the
signature is always verified, ``exp`` is required, ``nbf``/``iss``/``aud`` are enforced.

Expiry has one rule, the connection handler's too: a token is expired from its ``exp`` on
(``now >= exp``, ``exp`` taken as whole seconds as the authorizer passes it on), whatever the
leeway. ``JWT_LEEWAY_SECONDS`` allows for clock skew on ``nbf`` and ``iat`` only: were it
applied to ``exp``, a client would connect with a token that every message then refuses.
"""

from __future__ import annotations

import json
import math
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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
    "expires_at",
    "load_hmac_keys",
    "load_hmac_secret",
]

MAX_TOKEN_BYTES = 8 * 1024
JWKS_TIMEOUT_SECONDS = 3.0
JWKS_CACHE_SECONDS = 300.0
# Through a JWKS outage the last key set fetched stays in use this long: tokens signed with
# keys it holds keep passing; a token naming an unknown kid is a key fault meanwhile.
JWKS_GRACE_SECONDS = 3600.0
HMAC_REFRESH_SECONDS = 300.0
HMAC_REREAD_ON_FAILURE_SECONDS = 30.0
# Key ages are measured on the wall clock: Lambda freezes a container between invocations,
# and a monotonic clock need not advance while it is frozen, so a container that sleeps
# between rare connects would keep a rotated-out key long past these limits. A clock that
# went back counts as due.

type Claims = dict[str, Any]


class InvalidTokenError(Exception):
    """The token is missing, malformed, forged, expired or otherwise unacceptable (401).

    ``reason`` is a short code safe to log; the token itself is never part of it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def expires_at(claims: Mapping[str, Any]) -> int:
    """The token's ``exp`` as whole epoch seconds (what the authorizer's context carries and
    the handler compares): :class:`InvalidTokenError` unless it is a finite number."""
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise InvalidTokenError("invalid_exp")
    return math.floor(exp)


class KeyUnavailableError(Exception):
    """The verification key could not be obtained or is unusable (a fault on our side)."""


def _secret_value(settings: AuthorizerSettings, answer: Mapping[str, Any]) -> bytes:
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        value = answer.get("SecretBinary")
        if not isinstance(value, bytes) or not value:
            raise KeyUnavailableError("the HMAC secret is empty")
        return value
    return _from_text(settings, secret)


def _from_text(settings: AuthorizerSettings, text: str) -> bytes:
    field = settings.secret_json_key
    parsed: Any = None
    if field is not None or text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if field is not None:
        value = parsed.get(field) if isinstance(parsed, dict) else None
        if not isinstance(value, str) or not value:
            raise KeyUnavailableError(
                f"the HMAC secret is not a JSON object with a non-empty string field "
                f"{field!r} (JWT_SECRET_JSON_KEY)"
            )
        return value.encode("utf-8")
    if isinstance(parsed, dict):
        raise KeyUnavailableError(
            "the HMAC secret holds JSON key/value pairs (the console's form): set "
            "JWT_SECRET_JSON_KEY to the field that holds the key"
        )
    if not text:
        raise KeyUnavailableError("the HMAC secret is empty")
    return text.encode("utf-8")


def load_hmac_keys(
    settings: AuthorizerSettings,
    secretsmanager: Callable[[], Any] = aws.secretsmanager,
    ssm: Callable[[], Any] = aws.ssm,
) -> tuple[bytes, ...]:
    """The HMAC keys to accept: Secrets Manager's AWSCURRENT and, when the secret has one,
    AWSPREVIOUS (``JWT_SECRET_ARN``; ``JWT_SECRET_JSON_KEY`` names the field of a JSON
    secret), or the SSM parameter (``JWT_SECRET_PARAMETER``, decrypted)."""
    try:
        if settings.secret_arn is not None:
            client = secretsmanager()
            keys = [_secret_value(settings, client.get_secret_value(SecretId=settings.secret_arn))]
            try:
                previous = client.get_secret_value(
                    SecretId=settings.secret_arn, VersionStage="AWSPREVIOUS"
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
            else:
                try:
                    old = _secret_value(settings, previous)
                except KeyUnavailableError:
                    old = keys[0]  # an unusable old version never blocks the current key
                if old not in keys:
                    keys.append(old)
            return tuple(keys)
        if settings.secret_parameter is not None:
            answer = ssm().get_parameter(Name=settings.secret_parameter, WithDecryption=True)
            return (_from_text(settings, str(answer["Parameter"]["Value"])),)
        raise KeyUnavailableError("no HMAC secret source is configured")
    except (ClientError, BotoCoreError) as exc:
        raise KeyUnavailableError(f"reading the HMAC secret failed: {type(exc).__name__}") from exc


def load_hmac_secret(
    settings: AuthorizerSettings,
    secretsmanager: Callable[[], Any] = aws.secretsmanager,
    ssm: Callable[[], Any] = aws.ssm,
) -> bytes:
    """The current HMAC key (see :func:`load_hmac_keys`), e.g. to mint a token."""
    return load_hmac_keys(settings, secretsmanager, ssm)[0]


def _fault(exc: BaseException) -> str:
    """What went wrong fetching the JWKS, naming a TLS failure as such (a private CA the
    function does not trust, an expired or mismatched certificate)."""
    seen: BaseException | None = exc
    while seen is not None:
        reason = getattr(seen, "reason", None)
        for candidate in (seen, reason):
            if isinstance(candidate, ssl.SSLCertVerificationError):
                return f"TLS certificate verification failed ({candidate.verify_message})"
            if isinstance(candidate, ssl.SSLError):
                return f"TLS failed ({type(candidate).__name__})"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


class TokenVerifier:
    """Verifies tokens for one :class:`AuthorizerSettings`; keeps its key for the container.

    ``secret_loader`` returns the HMAC key or keys; it runs on first use, after a failure,
    every ``HMAC_REFRESH_SECONDS`` and, at most every ``HMAC_REREAD_ON_FAILURE_SECONDS``,
    when no key matches a signature (a rotation this container has not seen yet). A failed
    re-read keeps the keys it had. ``jwks_client`` is built lazily from ``JWT_JWKS_URL``.
    """

    def __init__(
        self,
        settings: AuthorizerSettings,
        secret_loader: Callable[[AuthorizerSettings], bytes | Sequence[bytes]] = load_hmac_keys,
        jwks_client: jwt.PyJWKClient | None = None,
        clock: Callable[[], float] = time.time,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._wall_clock = wall_clock
        self._secret_loader = secret_loader
        self._keys: tuple[bytes, ...] = ()
        self._read_at = 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks_client = jwks_client
        self._last_jwks: jwt.PyJWKSet | None = None
        self._last_jwks_at = 0.0

    def _load_keys(self) -> tuple[bytes, ...]:
        loaded = self._secret_loader(self._settings)
        return (loaded,) if isinstance(loaded, bytes) else tuple(loaded)

    def _hmac_keys(self, *, after_mismatch: bool = False) -> tuple[bytes, ...]:
        with self._lock:
            now = self._clock()
            age = now - self._read_at
            due = not self._keys or not 0 <= age < HMAC_REFRESH_SECONDS
            if after_mismatch and not 0 <= age < HMAC_REREAD_ON_FAILURE_SECONDS:
                due = True
            if not due:
                return self._keys
            try:
                keys = self._load_keys()
            except KeyUnavailableError:
                if not self._keys:
                    raise
                self._read_at = now  # keep the last good keys; try again later
                return self._keys
            self._keys, self._read_at = keys, now
            return keys

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
            self._last_jwks = self._jwks_client.get_jwk_set()
            self._last_jwks_at = self._clock()
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError, ValueError) as exc:
            # ValueError: PyJWKClient lets a body that is not JSON through as JSONDecodeError.
            last = self._last_jwks
            if last is not None and 0 <= self._clock() - self._last_jwks_at < JWKS_GRACE_SECONDS:
                for key in last.keys:
                    if key.key_id == kid:
                        return key
            raise KeyUnavailableError(f"JWKS unavailable: {_fault(exc)}") from exc
        try:
            return self._jwks_client.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, ValueError) as exc:
            # An unknown kid makes PyJWKClient fetch the set again: the same faults apply.
            raise KeyUnavailableError(f"JWKS refresh failed: {_fault(exc)}") from exc
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

        if not settings.uses_hmac:
            return self._decode(token, self._jwks_key(token, header))
        keys = self._hmac_keys()
        for attempt in range(2):
            for key in keys:
                try:
                    return self._decode(token, key)
                except InvalidTokenError as exc:
                    if exc.reason != "bad_signature":
                        raise
            if attempt == 0:
                fresh = self._hmac_keys(after_mismatch=True)
                if fresh == keys:
                    break
                keys = fresh
        raise InvalidTokenError("bad_signature")

    def _decode(self, token: str, key: bytes | jwt.PyJWK) -> Claims:
        settings = self._settings
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
                    # exp is checked below, without the leeway (the module's docstring).
                    "verify_exp": False,
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
        if self._wall_clock() >= expires_at(claims):
            raise InvalidTokenError("expired")
        return claims
