"""ws_bridge: the Lambda package behind an API Gateway WebSocket API.

Entry points (Lambda handler strings): ``ws_bridge.authorizer.handler`` (the ``$connect``
REQUEST authorizer) and ``ws_bridge.handler.handler`` (``$connect``, ``$disconnect``,
``$default`` and custom routes). Both read their settings from the environment when
imported, so this package module imports neither. Backends push to clients with
:mod:`ws_bridge.push`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
