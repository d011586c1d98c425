"""``PostToConnection`` without botocore's per-call pipeline (``aws`` extra): the push's path.

A boto3 client spends most of a post's CPU around the request rather than on it: parameter
validation, serialization, endpoint rules, a dozen events, headers kept in ``email``
messages, the response parsed into a dict. A push of 1,000 posts with 32 in flight is bound
by that CPU, not by the posts' latency (docs/performance.md, "Push"). This module makes the
same request for a third of it:

- the URL is ``{endpoint}/@connections/{id}``, the id percent-encoded as botocore encodes a
  URI label; the body is the data;
- the signature is SigV4 (service ``execute-api``, the client's region, the session's
  credentials, frozen per request so that a refresh never mixes two keys in one
  signature), computed as botocore's ``SigV4Auth`` computes it (a test compares the two,
  header for header) but with the derived key kept for the day and nothing but ``host``,
  ``x-amz-date`` and ``x-amz-security-token`` signed;
- it is sent over the boto3 client's own connection pool, so TLS verification and socket
  timeouts are the client's (``MANAGEMENT_API_CONFIG``): straight to the urllib3 pool that
  the client's HTTP session set up, or through the session itself when a proxy applies;
- the client's ``before-send`` event is emitted first, as botocore does: a handler that
  answers there (moto's ``mock_aws``) answers this request too.

The answer is the HTTP status and the error type, nothing parsed beyond that.
:meth:`ConnectionsApi.for_client` gives ``None`` when a client lacks what this relies on;
the caller then posts through the client itself.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import botocore
import urllib3
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import HTTPClientError
from botocore.hooks import first_non_none_response
from botocore.utils import normalize_url_path

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

__all__ = ["SIGNING_NAME", "Answer", "ConnectionsApi", "host_header", "sigv4_headers"]

SIGNING_NAME = "execute-api"
_EVENT = "before-send.apigatewaymanagementapi.PostToConnection"
_USER_AGENT = f"ws-bridge-backend Botocore/{botocore.__version__}"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    code: str  # "" on success; the error type API Gateway names, else "HTTP <status>"


def host_header(url: str) -> str:
    """The ``host`` botocore signs for ``url``: lowercase, without a default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


_signing_keys: dict[tuple[str, str, str], bytes] = {}


def _signing_key(secret: str, day: str, region: str) -> bytes:
    """SigV4's derived key for one secret, day and region, computed once (four HMACs)."""
    key = _signing_keys.get((secret, day, region))
    if key is None:
        key = f"AWS4{secret}".encode()
        for part in (day, region, SIGNING_NAME, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        if len(_signing_keys) > 64:  # old days and rotated secrets
            _signing_keys.clear()
        _signing_keys[(secret, day, region)] = key
    return key


def sigv4_headers(
    *,
    method: str,
    host: str,
    path: str,
    body: bytes,
    region: str,
    credentials: Any,
    amz_date: str,
) -> dict[str, str]:
    """The ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token) and
    ``Authorization`` headers of a request with no query string whose other headers are
    all unsigned ones (botocore's list: ``User-Agent``, ``Content-Length`` added later).
    ``path`` as sent (percent-encoded); ``credentials`` frozen."""
    token = credentials.token
    names = "host;x-amz-date;x-amz-security-token" if token else "host;x-amz-date"
    canonical_headers = f"host:{host}\nx-amz-date:{amz_date}\n"
    if token:
        canonical_headers += f"x-amz-security-token:{token}\n"
    canonical = "\n".join(
        (
            method,
            quote(normalize_url_path(path), safe="/~"),
            "",
            canonical_headers,
            names,
            hashlib.sha256(body).hexdigest(),
        )
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{SIGNING_NAME}/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    key = _signing_key(credentials.secret_key, day, region)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Amz-Date": amz_date}
    if token:
        headers["X-Amz-Security-Token"] = token
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return headers


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


def _code(status: int, headers: Any) -> str:
    if 200 <= status < 300:
        return ""
    kind = str(headers.get("x-amzn-ErrorType") or "").partition(":")[0]
    return kind or f"HTTP {status}"


class ConnectionsApi:
    """Posts to one stage's ``@connections`` with ``credentials``, through ``client``'s
    HTTP session. Thread-safe (the session's pool is)."""

    def __init__(self, client: ApiGatewayManagementApiClient, credentials: Credentials) -> None:
        endpoint = client._endpoint  # type: ignore[attr-defined]  # see for_client
        self._send = endpoint.http_session.send
        self._pool = _direct_pool(endpoint.http_session, client.meta.endpoint_url)
        self._emit = client.meta.events.emit
        base = client.meta.endpoint_url.rstrip("/")
        self._url = base + "/@connections/"
        self._path = urlsplit(base).path + "/@connections/"
        self._host = host_header(base)
        self._region = client.meta.region_name
        self._credentials = credentials

    @classmethod
    def for_client(
        cls, client: ApiGatewayManagementApiClient, credentials: Credentials | None
    ) -> ConnectionsApi | None:
        """The fast path for ``client``, or None: no credentials or region, an endpoint
        with a query string, or a client without the HTTP session every botocore client
        has had (``client._endpoint.http_session``): botocore offers no public way to reach
        the pool, TLS and proxy settings it configured."""
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
        label = quote(connection_id, safe="-._~")
        headers = sigv4_headers(
            method="POST",
            host=self._host,
            path=self._path + label,
            body=data,
            region=self._region,
            credentials=self._credentials.get_frozen_credentials(),
            amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        )
        headers["User-Agent"] = _USER_AGENT
        headers["Content-Length"] = str(len(data))
        # A plain dict where botocore keeps an HTTPHeaders (an email.message.Message, a part
        # of the cost this module leaves out): the session and moto read it as a mapping.
        request = AWSPreparedRequest(
            "POST",
            self._url + label,
            headers,  # type: ignore[arg-type]
            data,
            False,
        )
        response = first_non_none_response(self._emit(_EVENT, request=request))
        if response is not None or self._pool is None:
            if response is None:
                response = self._send(request)
            status = int(response.status_code)
            return Answer(status, _code(status, response.headers))
        try:
            answer = self._pool.urlopen(
                "POST",
                self._path + label,
                body=data,
                headers=headers,
                retries=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out
            raise HTTPClientError(error=exc) from exc
        return Answer(answer.status, _code(answer.status, answer.headers))
