"""Checking the handler's signature on a request (docs/design.md, "Request signing").

    verifier = RequestVerifier(SecretsManagerKeys(SIGNING_SECRET_ARN))
    try:
        signed = verifier.verify(method, raw_path, headers, body)
    except SignatureError as exc:
        return 401  # exc.reason says why, safe to log
    signed.headers["x-connection-id"]  # only the headers the signature covers
    signed.traceparent                  # the message's W3C traceparent, signed, or None

A request is accepted when its timestamp is within the window of this clock, every trusted
header it carries is signed, its signature matches one of the keys (each compared in constant
time) and its nonce is new to the replay store. The framework glue
(:mod:`ws_bridge_backend.wsgi`, :mod:`ws_bridge_backend.asgi`) does all of this for you.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ws_bridge_backend import contract
from ws_bridge_backend.keys import KeyProvider, as_provider
from ws_bridge_backend.replay import MemoryReplayStore, ReplayStore
from ws_bridge_backend.signing import (
    MAX_CLOCK_SKEW_SECONDS,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNED_HEADERS_HEADER,
    TIMESTAMP_HEADER,
    TRUSTED_HEADERS,
    VERSION,
    canonical_request,
    mac,
)
from ws_bridge_backend.traceparent import TRACE_HEADER, is_valid

__all__ = ["REASONS", "RequestVerifier", "SignatureError", "SignedRequest"]

# Why a request was refused: stable codes, the same in every language's verifier (the
# contract's "signing.refusals"): missing_headers (a signature header is absent),
# bad_timestamp (not 1 to 12 decimal digits), stale (outside the window of the verifier's
# clock), bad_nonce (not 32 lowercase hex characters), bad_signature_format (not
# v2=<64 lowercase hex>), bad_signed_headers (the signed-header list is not lowercase names,
# sorted, unique), unsigned_header (a trusted header is present but not signed),
# missing_signed_header (a header the signature covers is absent), bad_signature (no key
# gives this signature), replayed (the nonce was accepted before).
REASONS = contract.SIGNATURE_REFUSALS

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(VERSION + r"=([0-9a-f]{64})")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class SignatureError(Exception):
    """The request is not signed by a current key (answer 401). ``reason`` (one of
    :data:`REASONS`) is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a verified request may be trusted for: its signed headers (lowercase names),
    timestamp and nonce."""

    headers: Mapping[str, str]
    timestamp: int
    nonce: str

    @property
    def traceparent(self) -> str | None:
        """The signed W3C ``traceparent`` header (docs/design.md, "Tracing"), when the
        request carries a valid one."""
        value = self.headers.get(TRACE_HEADER)
        return value if is_valid(value) else None


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _signed_names(raw: str) -> list[str]:
    if raw == "":
        return []
    names = raw.split(";")
    if names != sorted(set(names)) or not all(_NAME.fullmatch(name) for name in names):
        raise SignatureError("bad_signed_headers")
    return names


class RequestVerifier:
    """Checks the handler's signatures; one per process, thread-safe.

    ``keys``: a :class:`~ws_bridge_backend.keys.KeyProvider` (e.g. ``SecretsManagerKeys``),
    fixed keys, or a callable returning them (asked on every request); every key is checked
    wherever it comes from. ``replay``: where accepted nonces are kept (default: this
    process's memory; ``RedisReplayStore`` shares them between instances). ``trusted``: the
    headers that must be signed when present.
    """

    def __init__(
        self,
        keys: KeyProvider | Iterable[bytes] | Callable[[], Iterable[bytes]],
        *,
        replay: ReplayStore | None = None,
        window_seconds: int = MAX_CLOCK_SKEW_SECONDS,
        trusted: Iterable[str] = TRUSTED_HEADERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key_provider = as_provider(keys)
        self.replay: ReplayStore = MemoryReplayStore() if replay is None else replay
        self._window = window_seconds
        self._trusted = frozenset(name.lower() for name in trusted)
        self._clock = clock

    def verify(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SignedRequest:
        """Return what the signature covers; raise :class:`SignatureError` otherwise.
        ``path``: the raw path as received, percent-encoded, without the query string.
        Raises ``InvalidKeyError`` when there is no usable key and
        ``ReplayStoreUnavailableError`` when the replay store cannot be asked: faults of the
        service, never a reason to accept."""
        lowered = _lowered(headers)
        timestamp = lowered.get(TIMESTAMP_HEADER.lower())
        nonce = lowered.get(NONCE_HEADER.lower())
        signature = lowered.get(SIGNATURE_HEADER.lower())
        names_header = lowered.get(SIGNED_HEADERS_HEADER.lower())
        if timestamp is None or nonce is None or signature is None or names_header is None:
            raise SignatureError("missing_headers")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise SignatureError("bad_timestamp")
        now = self._clock()
        signed_at = int(timestamp)
        if abs(now - signed_at) > self._window:
            raise SignatureError("stale")
        if not _NONCE.fullmatch(nonce):
            raise SignatureError("bad_nonce")
        matched = _SIGNATURE.fullmatch(signature)
        if matched is None:
            raise SignatureError("bad_signature_format")
        names = _signed_names(names_header)
        if any(name in lowered and name not in names for name in self._trusted):
            raise SignatureError("unsigned_header")
        if any(name not in lowered for name in names):
            raise SignatureError("missing_signed_header")
        signed = {name: lowered[name] for name in names}
        try:
            canonical = canonical_request(method, path, timestamp, nonce, signed, body)
        except UnicodeEncodeError:
            raise SignatureError("bad_signature") from None
        given = matched.group(1).encode()
        if not self._matches(canonical, given) and not (
            self.key_provider.refresh_after_mismatch() and self._matches(canonical, given)
        ):
            raise SignatureError("bad_signature")
        if not self.replay.add(nonce, signed_at, signed_at + self._window, now):
            raise SignatureError("replayed")
        return SignedRequest(headers=signed, timestamp=signed_at, nonce=nonce)

    def _matches(self, canonical: bytes, given: bytes) -> bool:
        valid = False
        # Every key is tried: the time taken does not tell which one matched.
        for key in self.key_provider.current():
            valid = hmac.compare_digest(mac(key, canonical).encode(), given) or valid
        return valid
