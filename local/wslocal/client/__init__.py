"""The local stack's client: the command line ``python -m wslocal.client mint|connect``
(``cli``) and development tokens (``tokens``), on top of the Python client package
``ws_bridge_client`` (clients/python), whose names are re-exported here.

- ``tokens``  minting a development token (``TokenRecipe``) and explaining a refused
  handshake from the client's own token;
- ``cli``     the command line (nothing here imports it).
"""

from ws_bridge_client import (
    AUTH_MODES,
    DEFAULT_OPEN_TIMEOUT,
    AuthMode,
    Backoff,
    ClientError,
    HandshakeRejected,
    SessionClient,
    SessionSettings,
    WsClient,
    unreachable,
    with_query,
)
from wslocal.client.tokens import TokenRecipe, explain_rejection, token_expiry

__all__ = [
    "AUTH_MODES",
    "DEFAULT_OPEN_TIMEOUT",
    "AuthMode",
    "Backoff",
    "ClientError",
    "HandshakeRejected",
    "SessionClient",
    "SessionSettings",
    "TokenRecipe",
    "WsClient",
    "explain_rejection",
    "token_expiry",
    "unreachable",
    "with_query",
]
