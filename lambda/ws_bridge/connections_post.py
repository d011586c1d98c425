"""``PostToConnection`` for the fan-out worker, without botocore's per-call pipeline.

A worker posts up to thousands of messages an invocation, ``FANOUT_CONCURRENCY`` in flight,
and through the boto3 client each post cost about three times the CPU of the request itself
(parameter validation, serialization, endpoint rules, a dozen events, headers kept in
``email`` messages, the response parsed into a dict): a worker's time, which Lambda bills,
went to that CPU rather than to waiting for the posts (docs/performance.md, "Fan-out").

:class:`ConnectionsPoster` makes the same request for the client it is given:

- the URL is ``{endpoint}/@connections/{id}``, the id percent-encoded as botocore encodes a
  URI label; the body is the data;
- SigV4 as botocore computes it (``ws_bridge_backend.connections_request``, which a test
  compares with botocore's, header for header), with the credentials frozen per request;
- sent straight into the urllib3 pool the client's HTTP session set up (its TLS
  verification, pool size and timeouts), or through the session itself when a proxy
  applies;
- the client's ``before-send`` event is emitted first, as botocore does: a handler that
  answers there (moto's ``mock_aws``) answers this request too.

The answer is the HTTP status and the error type, nothing parsed beyond that.
:meth:`ConnectionsPoster.for_client` gives None when a client lacks what this relies on; the
worker then posts through the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import HTTPClientError

from ws_bridge_backend.connections_request import Answer, Stage, answer_code, hook_answer

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

__all__ = ["ConnectionsPoster"]


def _direct_pool(session: Any, url: str) -> Any | None:
    """The urllib3 pool the client's HTTP session sends ``url``'s requests through, set up as
    its ``send`` sets it up (TLS verification); None when a proxy applies (the session's
    ``send`` handles those) or when this botocore lacks what this reads."""
    try:
        if session._proxy_config.proxy_url_for(url):
            return None
        pool = session._get_connection_manager(url).connection_from_url(url)
        session._setup_ssl_cert(pool, url, session._verify)
    except AttributeError:
        return None
    return pool


class ConnectionsPoster:
    """Posts to one stage's ``@connections`` with ``credentials``, through ``client``'s
    HTTP session. Thread-safe (the session's pool is)."""

    def __init__(self, client: ApiGatewayManagementApiClient, credentials: Credentials) -> None:
        session = client._endpoint.http_session  # type: ignore[attr-defined]  # see for_client
        self._send = session.send
        self._pool = _direct_pool(session, client.meta.endpoint_url)
        self._emit = client.meta.events.emit
        self._stage = Stage.of(client.meta.endpoint_url, client.meta.region_name)
        self._credentials = credentials

    @classmethod
    def for_client(
        cls, client: ApiGatewayManagementApiClient, credentials: Credentials | None
    ) -> ConnectionsPoster | None:
        """The poster for ``client``, or None: no credentials or region, an endpoint with a
        query string, or a client without the HTTP session every botocore client has had
        (``client._endpoint.http_session``): botocore offers no public way to reach the
        pool, TLS and proxy settings it configured."""
        endpoint = getattr(client, "_endpoint", None)
        session = getattr(endpoint, "http_session", None)
        if credentials is None or not callable(getattr(session, "send", None)):
            return None
        parts = urlsplit(client.meta.endpoint_url)
        if not client.meta.region_name or parts.query or parts.fragment:
            return None
        return cls(client, credentials)

    def post(self, connection_id: str, data: bytes) -> Answer:
        """One ``PostToConnection``. Raises botocore's ``HTTPClientError`` (a
        ``BotoCoreError``) when no answer came: refused, reset, timed out."""
        frozen = self._credentials.get_frozen_credentials()
        path, headers, request = self._stage.request(connection_id, data, frozen)
        answered = hook_answer(self._emit, request)
        if answered is not None:
            return answered
        if self._pool is None:  # a proxy: the session's own send
            response = self._send(request)
            status = int(response.status_code)
            return Answer(status, answer_code(status, response.headers))
        try:
            answer = self._pool.urlopen(
                "POST",
                path,
                body=data,
                headers=headers,
                retries=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out
            raise HTTPClientError(error=exc) from exc
        return Answer(answer.status, answer_code(answer.status, answer.headers))
