"""Fault injection of the reference backend: how its three contract endpoints misbehave on
request (``POST /api/admin/faults``), so tests can show what the handler does then."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from wslocal.reference_backend.replies import RequestError

__all__ = [
    "CONTRACT_ENDPOINTS",
    "FAULT_MODES",
    "INVALID_JSON_BODY",
    "MAX_FAULT_DELAY_SECONDS",
    "Fault",
    "parse_fault",
]

MAX_FAULT_DELAY_SECONDS: Final = 120.0
CONTRACT_ENDPOINTS: Final = frozenset({"validate", "message", "disconnect"})
FAULT_MODES: Final[Mapping[str, str]] = {
    "none": "answer normally",
    "slow": "wait delay_seconds, then answer normally",
    "error_5xx": "answer `status` (default 500) with a JSON error body",
    "invalid_json": "answer 200 with Content-Type application/json and a body that is not JSON",
    "down": "read the request, then drop the TCP connection without answering",
}
INVALID_JSON_BODY: Final = b'{"type": "pong", "timestamp": '


@dataclass(frozen=True)
class Fault:
    """The injected fault applied to the contract endpoints named in ``endpoints``."""

    mode: str = "none"
    delay_seconds: float = 0.0
    status: int = 500
    endpoints: frozenset[str] = CONTRACT_ENDPOINTS

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "delay_seconds": self.delay_seconds,
            "status": self.status,
            "endpoints": sorted(self.endpoints),
        }


def parse_fault(payload: Any) -> Fault:
    """Validate an admin fault request; raise ``RequestError`` when it is malformed."""
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_fault", "the fault must be a JSON object")
    mode = payload.get("mode", "none")
    if mode not in FAULT_MODES:
        raise RequestError(400, "invalid_fault", f"mode must be one of {sorted(FAULT_MODES)}")
    delay = payload.get("delay_seconds", 0.0)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not 0 <= delay <= MAX_FAULT_DELAY_SECONDS
    ):
        raise RequestError(
            400, "invalid_fault", f"delay_seconds must be between 0 and {MAX_FAULT_DELAY_SECONDS}"
        )
    status = payload.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
        raise RequestError(400, "invalid_fault", "status must be an integer from 500 to 599")
    endpoints = payload.get("endpoints", sorted(CONTRACT_ENDPOINTS))
    if (
        not isinstance(endpoints, list)
        or not endpoints
        or not all(isinstance(e, str) and e in CONTRACT_ENDPOINTS for e in endpoints)
    ):
        raise RequestError(
            400,
            "invalid_fault",
            f"endpoints must be a non-empty subset of {sorted(CONTRACT_ENDPOINTS)}",
        )
    return Fault(mode, float(delay), status, frozenset(endpoints))
