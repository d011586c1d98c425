"""The session protocol's fixed facts (docs/design.md, "Session protocol"): limits, request
ids, error codes, client defaults, the backoff, how a frame is encoded and a token's ``exp``
read. ``contract/contract.json`` is the source of the shared ones (``.contract``, generated)."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from ws_bridge_client import contract
from ws_bridge_client.contract import ClientErrorCode

__all__ = [
    "CLIENT_ERROR_CODES",
    "DEFAULTS",
    "HANDLER_ERROR_CODES",
    "ID_PATTERN",
    "MAX_FRAME_BYTES",
    "MAX_MESSAGE_BYTES",
    "Backoff",
    "ClientDefaults",
    "ClientErrorCode",
    "encode",
    "encoded_size",
    "is_later_token",
    "is_valid_traceparent",
    "new_client_id",
    "new_traceparent",
    "token_exp",
    "traced",
]

# The limits, the handler's error codes, the clients' own codes, the request id's form and
# the defaults are the contract's (contract/contract.json), generated into .contract.
MAX_MESSAGE_BYTES: Final = contract.MAX_MESSAGE_BYTES
MAX_FRAME_BYTES: Final = contract.MAX_FRAME_BYTES
ID_PATTERN: Final = re.compile(contract.ID_PATTERN.removeprefix("^").removesuffix("$"))
CLIENT_ID_LENGTH: Final = contract.CLIENT_ID_LENGTH
_CLIENT_ID_ALPHABET: Final = string.ascii_letters + string.digits
HANDLER_ERROR_CODES: Final = contract.HANDLER_ERROR_CODES
CLIENT_ERROR_CODES: Final = contract.CLIENT_ERROR_CODES
_MS: Final = contract.CLIENT_DEFAULTS_MS
# W3C Trace Context (docs/design.md, "Tracing"): the contract's pattern and a new trace's flags.
_TRACEPARENT: Final = re.compile(contract.TRACEPARENT_PATTERN)
TRACE_NEW_FLAGS: Final = contract.TRACE_NEW_FLAGS


@dataclass(frozen=True)
class ClientDefaults:
    """The client defaults both clients share, in seconds (the browser client's are in ms)."""

    connect_timeout: float = _MS["connectTimeout"] / 1000
    reply_timeout: float = _MS["replyTimeout"] / 1000
    keepalive: float = _MS["keepalive"] / 1000
    gap_timeout: float = _MS["gapTimeout"] / 1000
    max_queue: int = contract.CLIENT_DEFAULTS["maxQueue"]
    max_duration: float = _MS["maxDuration"] / 1000
    rollover_margin: float = _MS["rolloverMargin"] / 1000
    backoff_base: float = _MS["backoffBase"] / 1000
    backoff_max: float = _MS["backoffMax"] / 1000
    max_attempts: int = contract.CLIENT_DEFAULTS["maxAttempts"]


DEFAULTS: Final = ClientDefaults()


@dataclass(frozen=True)
class Backoff:
    """Attempt n waits uniform in [c/2, c], c = min(max_seconds, base_seconds * 2^(n-1));
    after ``max_attempts`` failed attempts in a row the client gives up."""

    base_seconds: float = DEFAULTS.backoff_base
    max_seconds: float = DEFAULTS.backoff_max
    max_attempts: int = DEFAULTS.max_attempts

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= max_seconds")
        if self.max_attempts < 0:
            raise ValueError("max_attempts must be >= 0")

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.random() * (ceiling / 2)


def encode(frame: Any) -> str:
    """A frame as sent: compact JSON, non-ASCII kept (what JSON.stringify writes)."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def encoded_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def is_valid_traceparent(value: object) -> TypeGuard[str]:
    """True for a W3C traceparent (version 00, lowercase hex) whose ids are not all zeros."""
    return (
        type(value) is str
        and _TRACEPARENT.fullmatch(value) is not None
        and value[3:35] != "0" * 32
        and value[36:52] != "0" * 16
    )


def new_traceparent() -> str:
    """A new W3C traceparent: random trace id and parent id (``secrets``), sampled."""
    while True:
        value = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-{TRACE_NEW_FLAGS}"
        if is_valid_traceparent(value):  # all zeros: drawn again
            return value


def traced(message: Any) -> tuple[Any, str]:
    """A request ``message`` (a mapping) with its traceparent: its own when valid, else a
    new one set in a copy; anything else as it is (the session core refuses it)."""
    if not isinstance(message, Mapping):
        return message, ""
    own = message.get(contract.TRACE_FIELD)
    if is_valid_traceparent(own):
        return message, own
    fresh = new_traceparent()
    return {**message, contract.TRACE_FIELD: fresh}, fresh


def new_client_id(rng: random.Random | None = None) -> str:
    """A random client id: 12 characters of [A-Za-z0-9] (from the OS's randomness)."""
    chooser = rng or random.SystemRandom()
    return "".join(chooser.choice(_CLIENT_ID_ALPHABET) for _ in range(CLIENT_ID_LENGTH))


def token_exp(token: str | None) -> float | None:
    """A JWT's ``exp`` read from its payload WITHOUT verification (None: none readable)."""
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def is_later_token(token: str, refused: str) -> bool:
    """Whether ``token`` may replace ``refused`` after ``token_expired``: its ``exp`` is later,
    or (when either has no readable ``exp``) it is another token."""
    if token == refused:
        return False
    new, old = token_exp(token), token_exp(refused)
    if new is None or old is None:
        return True
    return new > old
