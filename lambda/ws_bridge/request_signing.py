"""HMAC-SHA256 signatures on the handler's requests to the backend, and their verifier.

The connection handler signs every validate, message and disconnect request with a key kept
in Secrets Manager (``BACKEND_SIGNING_SECRET_ARN``), so a backend that is reachable from the
internet can tell the handler's calls from anyone else's. Three headers::

    X-Bridge-Timestamp: <epoch seconds>
    X-Bridge-Nonce:     <32 lowercase hex characters, random per request>
    X-Bridge-Signature: v1=<64 lowercase hex> = HMAC-SHA256(key, canonical)

    canonical = "v1\\n" + METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n"
                + hex(sha256(body))

PATH is the request target's path as sent (percent-encoded, without the query string); the
body of a GET is empty.

Backends written in Python import :class:`RequestVerifier` (this module needs only the
standard library; boto3 only for :func:`load_verification_keys`)::

    verifier = RequestVerifier(load_verification_keys(SECRET_ARN))
    try:
        verifier.verify(method, raw_path, headers, body)
    except SignatureError as exc:
        return 401  # exc.reason says why, safe to log
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_CLOCK_SKEW_SECONDS",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "RequestVerifier",
    "SignatureError",
    "SigningKey",
    "SigningKeyUnavailableError",
    "canonical_request",
    "load_verification_keys",
    "sign_request",
]

TIMESTAMP_HEADER = "X-Bridge-Timestamp"
NONCE_HEADER = "X-Bridge-Nonce"
SIGNATURE_HEADER = "X-Bridge-Signature"
VERSION = "v1"
MAX_CLOCK_SKEW_SECONDS = 300
# The handler re-reads its key this often, so a rotation reaches every warm container.
KEY_REFRESH_SECONDS = 300.0
# After a failed read, the next attempt waits this long (each request would otherwise add a
# Secrets Manager call, with its retries, to its own latency during an outage).
KEY_RETRY_SECONDS = 5.0

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")


def canonical_request(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes that are signed (see the module's documentation)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{VERSION}\n{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def _mac(key: bytes, canonical: bytes) -> str:
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def sign_request(
    key: bytes,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three signature headers for one request (``path`` as sent, without the query)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16) if nonce is None else nonce
    signature = _mac(key, canonical_request(method, path, timestamp, nonce, body))
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: f"{VERSION}={signature}",
    }


class SignatureError(Exception):
    """The request is not signed by a current key (answer 401). ``reason`` is safe to log:
    missing_headers, bad_timestamp, stale, bad_nonce, bad_signature_format, bad_signature,
    replayed, replay_cache_full."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value if isinstance(value, str) else None


class RequestVerifier:
    """Checks the handler's signatures, for backends.

    ``keys``: the keys to accept, or a callable returning them (called on each request, so
    it can serve keys from a cache it refreshes): during a rotation pass AWSCURRENT and
    AWSPREVIOUS. A request is accepted when its timestamp is within ``window_seconds`` of
    this clock, its signature matches one key (constant-time compare) and its nonce was not
    seen within the window. Seen nonces are held in memory, at most ``max_nonces``; when that
    many signed requests arrived within one window, further ones are refused
    (``replay_cache_full``) rather than weakening replay protection. One verifier per
    process; it is thread-safe.
    """

    def __init__(
        self,
        keys: Iterable[bytes] | Callable[[], Iterable[bytes]],
        *,
        window_seconds: int = MAX_CLOCK_SKEW_SECONDS,
        max_nonces: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if callable(keys):
            self._keys: Callable[[], Iterable[bytes]] = keys
        else:
            fixed = tuple(keys)
            if not fixed or not all(isinstance(key, bytes) and key for key in fixed):
                raise ValueError("RequestVerifier needs at least one non-empty key (bytes)")
            self._keys = lambda: fixed
        self._window = window_seconds
        self._max_nonces = max_nonces
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the request is signed; raise :class:`SignatureError` otherwise."""
        timestamp = _header(headers, TIMESTAMP_HEADER)
        nonce = _header(headers, NONCE_HEADER)
        signature = _header(headers, SIGNATURE_HEADER)
        if timestamp is None or nonce is None or signature is None:
            raise SignatureError("missing_headers")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise SignatureError("bad_timestamp")
        now = self._clock()
        if abs(now - int(timestamp)) > self._window:
            raise SignatureError("stale")
        if not _NONCE.fullmatch(nonce):
            raise SignatureError("bad_nonce")
        matched = _SIGNATURE.fullmatch(signature)
        if matched is None:
            raise SignatureError("bad_signature_format")
        canonical = canonical_request(method, path, timestamp, nonce, body)
        given = matched.group(1).encode()
        valid = False
        for key in self._keys():  # every key is tried: the time does not tell which matched
            expected = _mac(key, canonical).encode()
            valid = hmac.compare_digest(expected, given) or valid
        if not valid:
            raise SignatureError("bad_signature")
        self._remember(nonce, now)

    def _remember(self, nonce: str, now: float) -> None:
        with self._lock:
            seen = self._seen
            # Entries go in in arrival order: the expired ones are at the front.
            while seen and next(iter(seen.values())) < now:
                seen.popitem(last=False)
            if nonce in seen:
                raise SignatureError("replayed")
            if len(seen) >= self._max_nonces:
                raise SignatureError("replay_cache_full")
            # Forgotten once no timestamp that old can pass the window check.
            seen[nonce] = now + 2 * self._window


# ---------------------------------------------------------------------------- keys


class SigningKeyUnavailableError(Exception):
    """The signing key could not be read (the request must not be sent unsigned)."""


def _secret_bytes(answer: Mapping[str, Any]) -> bytes:
    secret = answer.get("SecretString")
    value = secret.encode("utf-8") if isinstance(secret, str) else answer.get("SecretBinary")
    if not isinstance(value, bytes) or not value:
        raise SigningKeyUnavailableError("the signing secret is empty")
    return value


def _client(secretsmanager: Any | None) -> Any:
    if secretsmanager is not None:
        return secretsmanager
    from ws_bridge import aws  # boto3 only when keys are read from Secrets Manager

    return aws.secretsmanager()


def load_verification_keys(secret_id: str, *, secretsmanager: Any | None = None) -> list[bytes]:
    """AWSCURRENT and, when the secret has one, AWSPREVIOUS: both are valid during a
    rotation. For backends: refresh them periodically (e.g. pass a cached callable to
    :class:`RequestVerifier`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(secretsmanager)
    keys = [_secret_bytes(client.get_secret_value(SecretId=secret_id))]
    try:
        previous = client.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return keys  # never rotated: there is no previous version
    except BotoCoreError:
        raise
    previous_key = _secret_bytes(previous)
    if previous_key not in keys:
        keys.append(previous_key)
    return keys


class SigningKey:
    """The handler's signing key: AWSCURRENT, read on first use, re-read after
    ``refresh_seconds``. A failed re-read keeps the last good key (and tries again after
    ``retry_seconds``); without any key :class:`SigningKeyUnavailableError` is raised."""

    def __init__(
        self,
        secret_id: str,
        *,
        refresh_seconds: float = KEY_REFRESH_SECONDS,
        retry_seconds: float = KEY_RETRY_SECONDS,
        secretsmanager: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._refresh = refresh_seconds
        self._retry = retry_seconds
        self._secretsmanager = secretsmanager
        self._clock = clock
        self._key: bytes | None = None
        self._next_read = 0.0
        self._lock = threading.Lock()

    def _read(self) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        client = _client(None if self._secretsmanager is None else self._secretsmanager())
        try:
            return _secret_bytes(client.get_secret_value(SecretId=self._secret_id))
        except (ClientError, BotoCoreError) as exc:
            raise SigningKeyUnavailableError(
                f"reading the signing secret failed: {type(exc).__name__}"
            ) from exc

    def get(self) -> bytes:
        with self._lock:
            now = self._clock()
            if now < self._next_read and self._key is not None:
                return self._key
            if now < self._next_read:
                raise SigningKeyUnavailableError("the signing secret could not be read lately")
            try:
                self._key = self._read()
            except SigningKeyUnavailableError:
                self._next_read = now + self._retry
                if self._key is None:
                    raise
                return self._key  # the last good key, until a read succeeds
            self._next_read = now + self._refresh
            return self._key
