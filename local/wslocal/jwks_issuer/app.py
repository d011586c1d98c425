"""The issuer over HTTPS: its endpoints as a WSGI application on the local stack's one HTTP
server (`wslocal.http_server`), and `admin_request`, their client."""

from __future__ import annotations

import json
import re
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from wslocal.http_server import LocalServer
from wslocal.jwks_issuer.keys import ALGORITHMS, Issuer, IssuerError, SigningKey
from wslocal.local_ca import LocalCA

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["JWKS_PATH", "MAX_REQUEST_BYTES", "admin_request", "answer", "issuer_app", "serve"]

JWKS_PATH: Final = "/.well-known/jwks.json"
MAX_REQUEST_BYTES: Final = 64 * 1024
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ADMIN_KEY = re.compile(r"^/admin/keys/([^/]+)$")


def answer(issuer: Issuer, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """The status and JSON document of one request to the issuer."""
    try:
        return 200, _answer(issuer, method, path, body)
    except IssuerError as err:
        return err.status, {"error": str(err)}


def _answer(issuer: Issuer, method: str, path: str, body: bytes) -> Any:
    if path == JWKS_PATH:
        _require(method, "GET")
        return issuer.jwks()
    if path == "/admin/keys":
        if method == "POST":
            alg = _object(body).get("alg")
            if alg not in ALGORITHMS:
                raise IssuerError(400, f"alg must be one of {list(ALGORITHMS)}")
            return _describe(issuer.add_key(alg))
        _require(method, "GET")
        return {"keys": [_describe(key) for key in issuer.served_keys()]}
    if match := _ADMIN_KEY.match(path):
        _require(method, "DELETE")
        return _describe(issuer.retire(match[1]))
    if path == "/admin/tokens":
        _require(method, "POST")
        request = _object(body)
        alg, claims, kid = (
            request.get("alg", "RS256"),
            request.get("claims"),
            request.get("kid"),
        )
        if alg not in ALGORITHMS:
            raise IssuerError(400, f"alg must be one of {list(ALGORITHMS)}")
        if not isinstance(claims, dict):
            raise IssuerError(400, "claims must be a JSON object")
        if kid is not None and not (isinstance(kid, str) and _KID.match(kid)):
            raise IssuerError(400, "kid is not a key id")
        return {"token": issuer.mint(alg, claims, kid)}
    raise IssuerError(404, "no such endpoint")


def _require(method: str, expected: str) -> None:
    if method != expected:
        raise IssuerError(405, f"use {expected}")


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise IssuerError(400, "the body must be JSON") from None
    if not isinstance(value, dict):
        raise IssuerError(400, "the body must be a JSON object")
    return value


def _describe(key: SigningKey) -> dict[str, str]:
    return {"kid": key.kid, "alg": key.alg, "keyFile": str(key.path)}


def _json(status: int, payload: Any, *, close: bool = False) -> Response:
    response = Response(json.dumps(payload), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    if close:
        response.headers["Connection"] = "close"
    return response


def issuer_app(issuer: Issuer) -> WSGIApplication:
    """The endpoints of `issuer`; each request is logged as one JSON line on stderr (method,
    path, status: never a body, which may carry claims)."""

    @Request.application
    def app(request: Request) -> Response:
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            return _json(413, {"error": "too large"}, close=True)
        body = request.get_data(cache=False) if length else b""
        status, payload = answer(issuer, request.method, request.path, body)
        line = {"method": request.method, "path": request.path, "status": status}
        print(json.dumps(line), file=sys.stderr, flush=True)
        return _json(status, payload)

    served: WSGIApplication = app
    return served


def serve(issuer: Issuer, ca: LocalCA, port: int = 0) -> LocalServer:
    """The issuer on 127.0.0.1:`port` (0: a free one) over HTTPS with the CA's server
    certificate; not started (`start()` in a thread, or `serve()` in this one)."""
    return LocalServer(issuer_app(issuer), port=port, name="issuer", tls=ca.server_context())


def admin_request(
    base_url: str, method: str, path: str, ca: Path, body: Any = None, timeout: float = 10
) -> Any:
    """Call the issuer at `base_url` (trusting only the CA file `ca`); its JSON answer."""
    context = ssl.create_default_context(cafile=str(ca))
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - an https:// URL of the local issuer
        base_url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:  # noqa: S310
        return json.loads(reply.read())
