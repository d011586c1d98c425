"""WebSocket client for the local stack: a small async library, and its CLI in ``cli``
(``python -m wslocal.client mint|connect``).

One module per job:

- ``connection``  ``WsClient``: one connection (connect / send_json / receive_json / close,
  with ``HandshakeRejected.status`` when the upgrade is refused) and where its token goes;
- ``session``     the connection lifecycle: ``ReconnectingSession`` keeps a connection alive
  and opens it again after a drop, with ``Backoff``;
- ``tokens``      minting a development token (``TokenRecipe``) and explaining a refused
  handshake from the client's own token;
- ``cli``         the command line, built on the three above (nothing here imports it).
"""

from wslocal.client.connection import (
    AUTH_MODES,
    DEFAULT_OPEN_TIMEOUT,
    AuthMode,
    HandshakeRejected,
    WsClient,
    unreachable,
    with_query,
)
from wslocal.client.session import (
    DEFAULT_KEEPALIVE_SECONDS,
    KEEPALIVE_MESSAGE,
    NO_RECONNECT_CLOSE_CODES,
    Backoff,
    ConnectionDropped,
    GaveUp,
    ReconnectingSession,
    SessionResult,
)
from wslocal.client.tokens import TokenRecipe, explain_rejection, token_expiry

__all__ = [
    "AUTH_MODES",
    "DEFAULT_KEEPALIVE_SECONDS",
    "DEFAULT_OPEN_TIMEOUT",
    "KEEPALIVE_MESSAGE",
    "NO_RECONNECT_CLOSE_CODES",
    "AuthMode",
    "Backoff",
    "ConnectionDropped",
    "GaveUp",
    "HandshakeRejected",
    "ReconnectingSession",
    "SessionResult",
    "TokenRecipe",
    "WsClient",
    "explain_rejection",
    "token_expiry",
    "unreachable",
    "with_query",
]
