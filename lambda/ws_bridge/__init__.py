"""ws_bridge: the Lambda package behind an API Gateway WebSocket API.

Entry points (Lambda handler strings): ``ws_bridge.authorizer.handler`` (the ``$connect``
REQUEST authorizer) and ``ws_bridge.handler.handler`` (``$connect``, ``$disconnect``,
``$default`` and custom routes). Both read their settings from the environment when
imported, so this package module imports neither. Backends push to clients with
:mod:`ws_bridge.push`; they check the handler's request signatures with
:mod:`ws_bridge.request_signing`.

What the package takes from the Lambda runtime (the zip ships only PyJWT): Python 3.12,
boto3/botocore, and urllib3 1.26 or 2.x (the runtime ships 1.26; ``backend_client``
subclasses urllib3's connection classes, so the unit tests run against both majors:
``make unit-urllib3-1``).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
