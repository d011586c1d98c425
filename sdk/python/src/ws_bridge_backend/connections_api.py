"""``PostToConnection`` without botocore's per-call pipeline, on an event loop (``aws``
extra): the push's path.

A push of 1,000 posts with 32 in flight is bound by the CPU of a post, not by the posts'
latency (docs/performance.md, "Push"). A boto3 client spends most of it around the request:
parameter validation, serialization, endpoint rules, a dozen events, headers kept in
``email`` messages, the response parsed into a dict. And 32 threads, one per post in flight,
each blocked in ``http.client``, take turns at the GIL at a cost of their own. This module
makes the same request for a fifth of the client's CPU:

- the URL is ``{endpoint}/@connections/{id}``, the id percent-encoded as botocore encodes a
  URI label; the body is the data;
- the signature is SigV4 (service ``execute-api``, the client's region, the session's
  credentials, frozen per request so that a refresh never mixes two keys in one
  signature), computed as botocore's ``SigV4Auth`` computes it (a test compares the two,
  header for header) but with the derived key kept for the day and nothing but ``host``,
  ``x-amz-date`` and ``x-amz-security-token`` signed;
- it is sent by aiohttp (its HTTP parser is compiled) on the caller's event loop, with the
  boto3 client's settings: its CA bundle or ``verify=False``, its connect and read
  timeouts (``MANAGEMENT_API_CONFIG``); a client behind a proxy or with a client
  certificate is left to post itself;
- the client's ``before-send`` event is emitted first, as botocore does: a handler that
  answers there (moto's ``mock_aws``) answers this request too.

The answer is the HTTP status and the error type, nothing parsed beyond that.
:meth:`ConnectionsApi.for_client` gives ``None`` when a client lacks what this relies on;
the caller then posts through the client itself.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import yarl
from botocore.exceptions import HTTPClientError
from botocore.httpsession import get_cert_path

from ws_bridge_backend.connections_request import Answer, Stage, answer_code, hook_answer
from ws_bridge_backend.event_loop import INHERITED

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

__all__ = ["ConnectionsApi"]


def _tls(session: Any, url: str) -> ssl.SSLContext | bool | None:
    """The TLS setting the client's HTTP session applies to ``url``, for aiohttp: a context
    trusting the session's CA bundle (``AWS_CA_BUNDLE``, the client's ``verify``, else
    certifi's), ``False`` when the client was told not to verify, ``True`` for plain HTTP.
    None when this path cannot send as the session would: a proxy applies, a client
    certificate is configured, or this botocore lacks what this reads."""
    try:
        if session._proxy_config.proxy_url_for(url) or session._cert_file:
            return None
        verify = session._verify
    except AttributeError:
        return None
    if urlsplit(url).scheme != "https":
        return True
    if verify is False:
        return False
    return ssl.create_default_context(cafile=get_cert_path(verify))


_APIS: weakref.WeakSet[ConnectionsApi] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for api in list(_APIS):
        api._forget_after_fork()


class ConnectionsApi:
    """Posts to one stage's ``@connections`` with ``credentials``, with ``client``'s
    settings (TLS, timeouts). :meth:`post` runs on an event loop: one aiohttp session per
    loop, made at its first post, at most ``concurrency`` connections open."""

    def __init__(
        self,
        client: ApiGatewayManagementApiClient,
        credentials: Credentials,
        tls: ssl.SSLContext | bool,
        concurrency: int,
    ) -> None:
        self._emit = client.meta.events.emit
        self._stage = Stage.of(client.meta.endpoint_url, client.meta.region_name)
        self._credentials = credentials
        self._tls = tls
        self._concurrency = concurrency
        config = client.meta.config  # botocore's defaults: 60 s each
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=getattr(config, "connect_timeout", 60),
            sock_read=getattr(config, "read_timeout", 60),
        )
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_client(
        cls,
        client: ApiGatewayManagementApiClient,
        credentials: Credentials | None,
        concurrency: int,
    ) -> ConnectionsApi | None:
        """The fast path for ``client``, or None: no credentials or region, an endpoint
        with a query string, a proxy or a client certificate, or a client without the HTTP
        session every botocore client has had (``client._endpoint.http_session``): botocore
        offers no public way to read the TLS and proxy settings it configured."""
        endpoint = getattr(client, "_endpoint", None)
        session = getattr(endpoint, "http_session", None)
        if credentials is None or session is None:
            return None
        parts = urlsplit(client.meta.endpoint_url)
        if not client.meta.region_name or parts.query or parts.fragment:
            return None
        tls = _tls(session, client.meta.endpoint_url)
        if tls is None:
            return None
        api = cls(client, credentials, tls, concurrency)
        _APIS.add(api)
        return api

    def _open(self) -> aiohttp.ClientSession:
        """The session of the running loop: made at its first post, again on a new loop."""
        session, loop = self._session, asyncio.get_running_loop()
        if session is None or session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(limit=self._concurrency, ssl=self._tls)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
            self._session, self._session_loop = session, loop
        return session

    def _forget_after_fork(self) -> None:
        """In a forked child: leave the parent's session (and its sockets) alone."""
        if self._session is not None:
            INHERITED.append(self._session)
        self._session = self._session_loop = None

    async def close(self) -> None:
        """Close the session (on the loop it runs on)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _frozen_credentials(self) -> Any:
        """The credentials of this post; a refresh (STS, the container's endpoint) runs on
        the loop's pool, so that the posts in flight go on meanwhile."""
        credentials = self._credentials
        refresh_needed = getattr(credentials, "refresh_needed", None)
        if callable(refresh_needed) and refresh_needed():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, credentials.get_frozen_credentials)
        return credentials.get_frozen_credentials()

    async def post(self, connection_id: str, data: bytes) -> Answer:
        """One ``PostToConnection``. Raises botocore's ``HTTPClientError`` (a
        ``BotoCoreError``) when no answer came: refused, reset, timed out."""
        credentials = await self._frozen_credentials()
        _, headers, request = self._stage.request(connection_id, data, credentials)
        answered = hook_answer(self._emit, request)
        if answered is not None:
            return answered
        headers["Host"] = self._stage.host  # the one signed: not left to aiohttp
        url = yarl.URL(request.url, encoded=True)  # sent as signed, not re-quoted
        try:
            async with self._open().post(url, data=data, headers=headers) as answer:
                await answer.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:  # refused, reset, timed out
            raise HTTPClientError(error=exc) from exc
        return Answer(answer.status, answer_code(answer.status, answer.headers))


os.register_at_fork(after_in_child=_after_fork_in_child)
