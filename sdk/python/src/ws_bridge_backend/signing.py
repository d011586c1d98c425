"""The signature on the handler's requests to a backend (version 2): canonical form, signing,
and the checks every key passes. Standard library only: the connection handler signs with
this module and backends verify with :mod:`ws_bridge_backend.verifier`, so both read the
same definition.

Four headers on every request::

    X-Bridge-Timestamp:      <epoch seconds>
    X-Bridge-Nonce:          <32 lowercase hex characters, random per request>
    X-Bridge-Signed-Headers: traceparent;x-connection-id   (lowercase, sorted, ";"-joined)
    X-Bridge-Signature:      v2=<64 lowercase hex> = HMAC-SHA256(key, canonical)

    canonical = "v2\\n" METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" NONCE "\\n"
                SIGNED_HEADER_NAMES "\\n"
                (for each signed header, in that order: NAME ":" hex(sha256(VALUE)) "\\n")
                hex(sha256(BODY))

PATH is the request target's path as sent (percent-encoded, without the query string);
VALUE is the header's value as sent (ISO-8859-1 bytes, no surrounding whitespace); BODY the
request's body (empty when there is none). A backend trusts only the headers the signature
covers: :data:`TRUSTED_HEADERS` are refused when they arrive unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ws_bridge_backend import contract

__all__ = [
    "MAX_CLOCK_SKEW_SECONDS",
    "MIN_KEY_BYTES",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "SIGNED_HEADERS_HEADER",
    "TIMESTAMP_HEADER",
    "TRUSTED_HEADERS",
    "VERSION",
    "InvalidKeyError",
    "canonical_request",
    "check_key",
    "check_keys",
    "key_from_secret",
    "mac",
    "sign_request",
    "signed_header_names",
]

# From the contract (contract/contract.json, "signing"):
VERSION = contract.SIGNING_VERSION
TIMESTAMP_HEADER = contract.TIMESTAMP_HEADER
NONCE_HEADER = contract.NONCE_HEADER
SIGNED_HEADERS_HEADER = contract.SIGNED_HEADERS_HEADER
SIGNATURE_HEADER = contract.SIGNATURE_HEADER
# Headers a backend may act on: the handler signs each one it sends, and a verifier refuses a
# request that carries one of them outside the signature (later ones join the list without a
# new version, as traceparent did).
TRUSTED_HEADERS = contract.TRUSTED_HEADERS
# A request is accepted within this many seconds of the verifier's clock, either way.
MAX_CLOCK_SKEW_SECONDS = contract.SIGNING_WINDOW_SECONDS
# HMAC-SHA256 keys shorter than its output are refused wherever they come from.
MIN_KEY_BYTES = contract.SIGNING_MIN_KEY_BYTES

_HEADER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class InvalidKeyError(ValueError):
    """A signing key (or a list of them) cannot be used: not bytes, empty, shorter than
    :data:`MIN_KEY_BYTES`, or an empty list. A configuration fault of the service, never a
    verdict on a request."""


def check_key(key: object) -> bytes:
    """``key`` if it is usable; :class:`InvalidKeyError` otherwise (the message never
    contains the key)."""
    if not isinstance(key, bytes):
        raise InvalidKeyError(f"a signing key must be bytes, got {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise InvalidKeyError(
            f"a signing key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}"
        )
    return key


def check_keys(keys: Iterable[object]) -> tuple[bytes, ...]:
    """Every key checked (:func:`check_key`), at least one, duplicates dropped."""
    checked: list[bytes] = []
    for key in keys:
        usable = check_key(key)
        if usable not in checked:
            checked.append(usable)
    if not checked:
        raise InvalidKeyError("at least one signing key is required, got none")
    return tuple(checked)


def key_from_secret(answer: Mapping[str, Any]) -> bytes:
    """The key in a Secrets Manager ``GetSecretValue`` answer: the SecretString's UTF-8
    bytes (or the SecretBinary), checked."""
    secret = answer.get("SecretString")
    value = secret.encode("utf-8") if isinstance(secret, str) else answer.get("SecretBinary")
    return check_key(value)


def signed_header_names(names: Iterable[str]) -> str:
    """The ``X-Bridge-Signed-Headers`` value: lowercase names, sorted, ``;``-joined."""
    return ";".join(sorted({name.lower() for name in names}))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_request(
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bytes:
    """The bytes that are signed. ``headers``: the signed headers, lowercase names to values
    (``UnicodeEncodeError`` for a value that is not ISO-8859-1)."""
    names = sorted(headers)
    lines = [VERSION, method.upper(), path, timestamp, nonce, ";".join(names)]
    lines += [f"{name}:{_digest(headers[name].encode('latin-1'))}" for name in names]
    lines.append(_digest(body))
    return "\n".join(lines).encode("latin-1")


def mac(key: bytes, canonical: bytes) -> str:
    """HMAC-SHA256 of ``canonical`` as 64 lowercase hex characters."""
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def sign_request(
    key: bytes,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four signature headers of one request. ``path`` as sent, without the query;
    ``headers``: the headers the signature covers (names in any case), sent as given.
    ``ValueError`` for a header name that is not a plain token or a value with surrounding
    whitespace (an HTTP parser would strip it, and the signature would then not match)."""
    signed: dict[str, str] = {}
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if not _HEADER_NAME.fullmatch(lowered) or lowered in signed:
            raise ValueError(f"cannot sign header {name!r}")
        if value != value.strip(" \t"):
            raise ValueError(f"the value of {name!r} has surrounding whitespace")
        signed[lowered] = value
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16) if nonce is None else nonce
    signature = mac(check_key(key), canonical_request(method, path, timestamp, nonce, signed, body))
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNED_HEADERS_HEADER: signed_header_names(signed),
        SIGNATURE_HEADER: f"{VERSION}={signature}",
    }
