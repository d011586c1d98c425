"""ws_bridge: the Lambda package behind an API Gateway WebSocket API.

Entry points (Lambda handler strings): ``ws_bridge.authorizer.handler`` (the ``$connect``
REQUEST authorizer) and ``ws_bridge.handler.handler`` (``$connect``, ``$disconnect``,
``$default`` and custom routes). Both read their settings from the environment when
imported, so this package module imports neither. Backends use the backend SDK instead
(``sdk/python``, ``ws_bridge_backend``): its verifier checks the handler's request signatures,
its push reaches clients. The handler signs with the SDK's ``ws_bridge_backend.signing``,
which the zip ships.

What the package takes from the Lambda runtime (the zip ships only PyJWT): Python 3.12,
boto3/botocore, and urllib3 1.26 or 2.x (the runtime ships 1.26; ``backend_client``
subclasses urllib3's connection classes, so the unit tests run against both majors:
``make unit-urllib3-1``).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
