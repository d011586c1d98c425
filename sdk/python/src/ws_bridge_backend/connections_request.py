"""The ``PostToConnection`` request and its answer, without botocore's per-call pipeline:
what the SDK's push (``ws_bridge_backend.connections_api``, aiohttp) and the fan-out worker
(``ws_bridge.connections_post``, urllib3) both send. Standard library and botocore only, as
the Lambda package ships it.

SigV4 as botocore's ``SigV4Auth`` computes it: ``sigv4_headers`` signs a request with no
query string whose only signed headers are ``host``, ``x-amz-date`` and, with a session
token, ``x-amz-security-token``. The others it goes with are left unsigned, as SigV4 allows:
``User-Agent`` and ``Content-Length`` (botocore leaves them unsigned too), and what aiohttp
adds (``Content-Type``, ``Accept``, ``Accept-Encoding``). The derived key is computed once
per secret, day and region: botocore computes it (four HMACs) for every request. A test
compares the headers with botocore's, with and without a session token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import botocore
from botocore.awsrequest import AWSPreparedRequest
from botocore.hooks import first_non_none_response
from botocore.utils import normalize_url_path

__all__ = [
    "SIGNING_NAME",
    "Answer",
    "Stage",
    "answer_code",
    "hook_answer",
    "host_header",
    "sigv4_headers",
]

SIGNING_NAME = "execute-api"
# The event botocore emits before sending (moto's mock_aws answers there): emitted alike.
BEFORE_SEND = "before-send.apigatewaymanagementapi.PostToConnection"
USER_AGENT = f"ws-bridge Botocore/{botocore.__version__}"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    code: str  # "" on success; the error type API Gateway names, else "HTTP <status>"


def answer_code(status: int, headers: Any) -> str:
    """Empty for a 2xx; else the error type ``x-amzn-ErrorType`` names, or ``HTTP <status>``."""
    if 200 <= status < 300:
        return ""
    kind = str(headers.get("x-amzn-ErrorType") or "").partition(":")[0]
    return kind or f"HTTP {status}"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage's ``@connections``: where its posts go and how they are signed."""

    url: str  # {endpoint}/@connections/
    path: str  # the same, its path only
    host: str  # the host header signed and sent
    region: str

    @classmethod
    def of(cls, endpoint_url: str, region: str) -> Stage:
        """``endpoint_url``: the stage's base URL, without ``/@connections``."""
        base = endpoint_url.rstrip("/")
        path = urlsplit(base).path + "/@connections/"
        return cls(base + "/@connections/", path, host_header(base), region)

    def request(
        self, connection_id: str, data: bytes, credentials: Any
    ) -> tuple[str, dict[str, str], AWSPreparedRequest]:
        """The path, the headers and the signed request of one post (``credentials``
        frozen). The request holds the headers, a plain dict, where botocore keeps an
        ``HTTPHeaders`` (an ``email`` message, a part of the cost this leaves out): the
        session and moto read it as a mapping."""
        label = quote(connection_id, safe="-._~")
        headers = sigv4_headers(
            method="POST",
            host=self.host,
            path=self.path + label,
            body=data,
            region=self.region,
            credentials=credentials,
            amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        )
        headers["User-Agent"] = USER_AGENT
        headers["Content-Length"] = str(len(data))
        request = AWSPreparedRequest("POST", self.url + label, headers, data, False)  # type: ignore[arg-type]
        return self.path + label, headers, request


def hook_answer(emit: Callable[..., Any], request: AWSPreparedRequest) -> Answer | None:
    """Emit the client's ``before-send`` event as botocore does: what a handler answered
    there (moto's ``mock_aws``), or None."""
    response = first_non_none_response(emit(BEFORE_SEND, request=request))
    if response is None:
        return None
    status = int(response.status_code)
    return Answer(status, answer_code(status, response.headers))


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
