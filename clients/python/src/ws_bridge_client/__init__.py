"""Python client of the apigw-websocket-bridge session protocol (docs/design.md, "Session
protocol"): a session over API Gateway WebSockets that survives drops, token expiry and the
2-hour limit, with messages in order and each once, and requests that run once.

One module per job:

- ``client``        ``SessionClient``: the session (connect, send, request, ping, rotate, close)
- ``settings``      ``SessionSettings`` (where the token goes, limits), ``Event``, ``SentRequest``
- ``session_core``  the protocol's client side without I/O (``SessionCore``), ``ClientError``
- ``link``          one connection of a session: its frames, heartbeat and end
- ``connection``    ``WsClient``: one raw WebSocket connection, the token's placement
- ``protocol``      limits, ids, error codes, defaults, ``Backoff``, a token's ``exp``
"""

from ws_bridge_client.client import SessionClient
from ws_bridge_client.connection import (
    AUTH_MODES,
    DEFAULT_OPEN_TIMEOUT,
    AuthMode,
    HandshakeRejected,
    WsClient,
    unreachable,
    with_query,
)
from ws_bridge_client.protocol import (
    CLIENT_ERROR_CODES,
    DEFAULTS,
    HANDLER_ERROR_CODES,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    Backoff,
    is_valid_traceparent,
    new_traceparent,
    token_exp,
)
from ws_bridge_client.session_core import ClientError, SessionCore
from ws_bridge_client.settings import Event, SentRequest, SessionSettings

__all__ = [
    "AUTH_MODES",
    "CLIENT_ERROR_CODES",
    "DEFAULTS",
    "DEFAULT_OPEN_TIMEOUT",
    "HANDLER_ERROR_CODES",
    "MAX_FRAME_BYTES",
    "MAX_MESSAGE_BYTES",
    "AuthMode",
    "Backoff",
    "ClientError",
    "Event",
    "HandshakeRejected",
    "SentRequest",
    "SessionClient",
    "SessionCore",
    "SessionSettings",
    "WsClient",
    "is_valid_traceparent",
    "new_traceparent",
    "token_exp",
    "unreachable",
    "with_query",
]
