"""W3C Trace Context's ``traceparent`` (https://www.w3.org/TR/trace-context/), the one trace
a client message carries across the socket (docs/design.md, "Tracing"). Standard library
only: the connection handler checks and starts traces with this module, and backends read
the header the handler sends with it, so both read the same definition.

    00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>      (lowercase hex)

A value that does not match, or whose trace id or parent id is all zeros, is invalid.
"""

from __future__ import annotations

import os
import re
from typing import TypeGuard

from ws_bridge_backend import contract

__all__ = ["TRACE_FIELD", "TRACE_HEADER", "is_valid", "new_traceparent", "trace_id"]

# From the contract (contract/contract.json, "session.trace"):
TRACE_FIELD = contract.TRACE_FIELD
TRACE_HEADER = contract.TRACE_HEADER

_PATTERN = re.compile(contract.TRACEPARENT_PATTERN)
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16


def is_valid(value: object) -> TypeGuard[str]:
    """True when ``value`` is a version-00 ``traceparent`` whose ids are not all zeros."""
    return (
        type(value) is str
        and _PATTERN.fullmatch(value) is not None
        and value[3:35] != _ZERO_TRACE
        and value[36:52] != _ZERO_PARENT
    )


def new_traceparent() -> str:
    """A new trace: random trace id and parent id, the contract's flags (sampled)."""
    while True:
        ids = os.urandom(24).hex()  # one read of the OS's randomness for both ids
        value = f"00-{ids[:32]}-{ids[32:]}-{contract.TRACE_NEW_FLAGS}"
        if is_valid(value):  # all zeros: one chance in 2^64, drawn again
            return value


def trace_id(value: str) -> str:
    """The trace id of a valid ``traceparent`` (what tracing tools search by)."""
    return value[3:35]
