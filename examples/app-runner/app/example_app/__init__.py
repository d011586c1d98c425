"""A small backend for apigw-websocket-bridge, built on the backend SDK (``ws_bridge_backend``):
every request verified, session membership from the session store (or a callback of yours),
replies and pushes through ``@connections`` with the instance role. See ../README.md."""
