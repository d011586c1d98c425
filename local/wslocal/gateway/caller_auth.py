"""Who may call `@connections`: SigV4 and `execute-api:ManageConnections`, as on AWS.

API Gateway checks each `@connections` request's signature against the caller's credentials
and the caller's IAM permission `execute-api:ManageConnections` on
`arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{METHOD}/@connections/{id}`.
The gateway holds no secrets, so it asks the control plane: the local emulator answers
`POST /_wslocal/iam/authorize` with moto's credentials and IAM (`wslocal.emulator.iam`).
A control plane without that endpoint (plain moto, LocalStack) cannot be asked; the gateway
then only requires a well-formed SigV4 `Authorization` header and says so at start-up.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["AUTHORIZE_PATH", "CallerCheck", "Refusal", "probe"]

log = logging.getLogger("wslocal.gateway")

AUTHORIZE_PATH = "/_wslocal/iam/authorize"
_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Refusal:
    """Why a caller is refused: the status and message API Gateway would answer."""

    status: int
    message: str


def _probe(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(  # noqa: S310 - the configured control plane
            endpoint_url.rstrip("/") + AUTHORIZE_PATH, timeout=_TIMEOUT_SECONDS
        ) as answer:
            document = json.loads(answer.read())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("enforced") is True


async def probe(endpoint_url: str | None) -> CallerCheck | None:
    """A CallerCheck when the control plane at `endpoint_url` can judge callers, else None."""
    if not endpoint_url:
        return None
    if not await asyncio.to_thread(_probe, endpoint_url):
        return None
    return CallerCheck(endpoint_url)


class CallerCheck:
    """Asks the emulator whether a signed request may perform `action` on `resource`."""

    def __init__(self, endpoint_url: str) -> None:
        self.url = endpoint_url.rstrip("/") + AUTHORIZE_PATH

    def _ask(self, query: bytes) -> dict[str, object]:
        request = urllib.request.Request(  # noqa: S310 - the configured control plane
            self.url, data=query, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as answer:  # noqa: S310
            document = json.loads(answer.read())
        if not isinstance(document, dict):
            raise ValueError("the emulator's answer is not an object")
        return document

    async def check(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        resource: str,
        action: str = "execute-api:ManageConnections",
    ) -> Refusal | None:
        """None when the caller may; a Refusal (403) when not. A control plane that does
        not answer refuses too (500), rather than letting an unchecked call through."""
        query = json.dumps(
            {
                "method": method,
                "target": target,
                "headers": [list(pair) for pair in headers],
                "body": base64.b64encode(body).decode(),
                "action": action,
                "resource": resource,
            }
        ).encode()
        try:
            decision = await asyncio.to_thread(self._ask, query)
        except (OSError, ValueError) as exc:
            log.error("cannot check an @connections caller with the emulator: %s", exc)
            return Refusal(500, "Internal server error")
        if decision.get("allowed") is True:
            return None
        message = str(decision.get("message") or "Forbidden")
        log.warning("@connections %s %s refused: %s", method, target, message)
        status = decision.get("status")
        return Refusal(status if isinstance(status, int) else 403, message)
