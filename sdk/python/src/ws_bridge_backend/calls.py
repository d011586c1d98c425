"""The three calls the connection handler makes, as typed objects, and the gate the WSGI and
ASGI glue put in front of an app: verify every request, then tell the app which call it is.

    validate    POST {validate path}   {"connectionId","sessionId","userId","sessionSource",
                                        "tokenExpiresAt"}; Authorization: Bearer <jwt>
    message     POST {message path}    the client's JSON object, connectionId, sessionId and
                                        userId set by the handler
    disconnect  POST {disconnect path} {"connectionId","sessionId","userId",
                                        "disconnectStatusCode","disconnectReason"}

Each carries ``X-Connection-Id``, signed; a message also ``traceparent``, signed. The
identity comes from the signed body (the authorizer verified the token): a backend never
parses the JWT.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from ws_bridge_backend.replay import ReplayStoreUnavailableError
from ws_bridge_backend.signing import InvalidKeyError
from ws_bridge_backend.traceparent import TRACE_HEADER, is_valid
from ws_bridge_backend.verifier import RequestVerifier, SignatureError, SignedRequest

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "BridgeCall",
    "BridgeGate",
    "BridgePaths",
    "CallKind",
    "Refusal",
    "parse_call",
]

type CallKind = Literal["validate", "message", "disconnect"]

# The handler sends at most 128 KB of client message plus the identity it adds.
DEFAULT_MAX_BODY_BYTES = 256 * 1024

log = logging.getLogger("ws_bridge_backend")


@dataclass(frozen=True, slots=True)
class BridgePaths:
    """The paths the handler calls, as Terraform's ``backend.paths`` sets them (these are
    the module's defaults). ``validate`` holds ``{sessionId}``."""

    validate: str = "/api/labs/session/{sessionId}/validate"
    message: str = "/api/ws/message"
    disconnect: str = "/api/ws/disconnect"

    def __post_init__(self) -> None:
        if self.validate.count("{sessionId}") != 1:
            raise ValueError("BridgePaths.validate must contain {sessionId} once")

    def match(self, raw_path: str) -> tuple[CallKind, str | None] | None:
        """Which call ``raw_path`` (percent-encoded, no query) is, and for validate the
        session id in it (decoded); None for any other path."""
        if raw_path == self.message:
            return "message", None
        if raw_path == self.disconnect:
            return "disconnect", None
        prefix, suffix = self.validate.split("{sessionId}")
        middle = raw_path[len(prefix) : len(raw_path) - len(suffix)]
        if (
            len(raw_path) > len(prefix) + len(suffix)
            and raw_path.startswith(prefix)
            and raw_path.endswith(suffix)
            and "/" not in middle
        ):
            return "validate", unquote(middle)
        return None


@dataclass(frozen=True, slots=True)
class BridgeCall:
    """One verified call of the handler. ``headers``: the signed headers only (lowercase
    names); ``body``: the parsed JSON object."""

    kind: CallKind
    connection_id: str
    session_id: str
    user_id: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def token_expires_at(self) -> int | None:
        """validate: the token's ``exp`` (epoch seconds), when it has one."""
        value = self.body.get("tokenExpiresAt")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def session_source(self) -> str:
        """validate: ``token`` (the token's own claim named the session) or ``query``."""
        value = self.body.get("sessionSource")
        return value if isinstance(value, str) else ""

    @property
    def message_type(self) -> str | None:
        """message: the client's ``type``."""
        value = self.body.get("type")
        return value if isinstance(value, str) else None

    @property
    def traceparent(self) -> str | None:
        """message: the W3C ``traceparent`` of the client message (the client's, or the
        trace the handler started), from the signed header; log it to follow the message
        from the client through the handler's log to the backend (docs/design.md,
        "Tracing"). None when the header is absent or not a valid traceparent."""
        value = self.headers.get(TRACE_HEADER)
        return value if is_valid(value) else None


class Refusal(Exception):
    """The gate's answer instead of the app's: ``status`` and a JSON body."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{status} {error} {detail}".strip())
        self.status = status
        self.error = error
        self.detail = detail

    def body(self) -> bytes:
        payload = {"error": self.error} | ({"reason": self.detail} if self.detail else {})
        return json.dumps(payload, separators=(",", ":")).encode()


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(400, "invalid_call", f"{name} is missing")
    return value


def parse_call(
    kind: CallKind,
    body: bytes,
    headers: Mapping[str, str],
    *,
    path_session: str | None = None,
) -> BridgeCall:
    """The call ``kind`` from its JSON ``body`` and its signed ``headers`` (lowercase
    names); :class:`Refusal` (400) when it is not one: not a JSON object, an identity field
    missing, ``X-Connection-Id`` or the validate path naming someone else."""
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "invalid_json") from None
    if not isinstance(parsed, dict):
        raise Refusal(400, "invalid_call", "the body is not a JSON object")
    call = BridgeCall(
        kind=kind,
        connection_id=_text(parsed, "connectionId"),
        session_id=_text(parsed, "sessionId"),
        user_id=_text(parsed, "userId"),
        body=parsed,
        headers=dict(headers),
    )
    header_id = headers.get("x-connection-id")
    if header_id is not None and header_id != call.connection_id:
        raise Refusal(400, "invalid_call", "X-Connection-Id differs from connectionId")
    if path_session is not None and path_session != call.session_id:
        raise Refusal(400, "invalid_call", "the path names another session")
    return call


class BridgeGate:
    """Verify a request and make it a :class:`BridgeCall`; the glue's shared core.

    Every request must be signed, but those to ``unsigned_paths`` (exact raw paths, e.g. a
    load balancer's health check), which reach the app with no call. A signed request to a
    path that is none of the three calls reaches the app with no call either.
    """

    def __init__(
        self,
        verifier: RequestVerifier,
        *,
        paths: BridgePaths | None = None,
        unsigned_paths: Collection[str] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.verifier = verifier
        self.paths = paths or BridgePaths()
        self.unsigned_paths = frozenset(unsigned_paths)
        self.max_body_bytes = max_body_bytes

    def is_unsigned(self, raw_path: str) -> bool:
        return raw_path in self.unsigned_paths

    def check(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> BridgeCall | None:
        """The call, None for a signed request to another path; :class:`Refusal` otherwise."""
        signed = self._verify(method, raw_path, headers, body)
        matched = self.paths.match(raw_path)
        if matched is None:
            return None
        kind, path_session = matched
        if method != "POST":
            raise Refusal(405, "method_not_allowed", "the handler's calls are POST")
        return parse_call(kind, body, signed.headers, path_session=path_session)

    def _verify(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> SignedRequest:
        try:
            return self.verifier.verify(method, raw_path, headers, body)
        except SignatureError as exc:
            log.warning("request signature refused", extra={"reason": exc.reason})
            raise Refusal(401, "bad_request_signature", exc.reason) from None
        except InvalidKeyError as exc:
            log.error(
                "requests cannot be verified: no usable signing key (check the key source, "
                "e.g. the secret in BACKEND_SIGNING_SECRET_ARN)",
                extra={"error": str(exc)},
            )
            raise Refusal(500, "verifier_unavailable") from None
        except ReplayStoreUnavailableError as exc:
            log.error("the replay store cannot be reached", extra={"error": str(exc)})
            raise Refusal(503, "replay_store_unavailable") from None
