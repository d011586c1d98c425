"""A local token issuer: RS256/ES256 signing keys and their JWKS, served over HTTPS.

Run it with::

    python -m wslocal.jwks_issuer --port 8443 --dir /tmp/issuer --alg RS256 --alg ES256

On start it makes sure ``--tls-dir`` (default ``<dir>/../tls``) holds a local CA and a
certificate for 127.0.0.1 signed by it (``wslocal.local_ca``), loads the signing keys kept in
``<dir>/keys`` (one PKCS#8 PEM file per key, named ``<kid>.pem``) and creates one for each
``--alg`` that has none. It prints ``issuer ready https://127.0.0.1:<port>`` once it serves,
binds 127.0.0.1 only and stops on SIGTERM or SIGINT. Keys survive a restart (the files stay).

Endpoints:

``GET /.well-known/jwks.json``
    The public keys (``kid``, ``alg``, ``use: sig``), newest first.

Admin endpoints (LOCAL ONLY: no authentication; they exist so tests and developers can rotate
keys and mint tokens):

- ``GET /admin/keys``: ``{"keys": [{"kid", "alg", "keyFile"}]}``
- ``POST /admin/keys`` ``{"alg": "RS256"}``: a new key, served from now on (a rotation)
- ``DELETE /admin/keys/{kid}``: stop serving a key (its file moves to ``<dir>/retired``)
- ``POST /admin/tokens`` ``{"alg": "RS256", "claims": {...}, "kid": optional}``: a token
  signed with that key (default: the newest key of ``alg``). ``iat``/``exp`` default to now
  and now + 1 h.

Tokens can also be minted without the issuer running, from a key file:
``python -m wslocal.client mint --alg RS256 --key-file <dir>/keys/<kid>.pem ...``.

For the local stack, ``issuer_service()`` runs it as a stack service in ``<workdir>/issuer``
with the CA in ``<workdir>/tls``; ``trusting_gateway_service()`` starts the gateway with
``SSL_CERT_FILE=<workdir>/tls/ca.pem`` in its workers' environment, and
``jwks_backend_service()`` runs the reference backend verifying tokens by this JWKS.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from wslocal.local_ca import LocalCA, ensure_ca, write_private_key
from wslocal.stack import Service, StackConfig, StackInfo, backend_service, gateway_service

__all__ = [
    "ALGORITHMS",
    "JWKS_PATH",
    "Issuer",
    "IssuerServer",
    "SigningKey",
    "admin_request",
    "ca_file",
    "issuer_dir",
    "issuer_service",
    "jwks_backend_service",
    "load_signing_key",
    "trusting_gateway_service",
]

HOST: Final = "127.0.0.1"
JWKS_PATH: Final = "/.well-known/jwks.json"
ALGORITHMS: Final = ("RS256", "ES256")
RSA_KEY_BITS: Final = 2048
DEFAULT_TOKEN_TTL_SECONDS: Final = 3600
MAX_REQUEST_BYTES: Final = 64 * 1024
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ADMIN_KEY = re.compile(r"^/admin/keys/([^/]+)$")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    """One signing key: its id, algorithm, private key and the file that holds it."""

    kid: str
    alg: str
    private_key: PrivateKey
    path: Path

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


def algorithm_of(private_key: object) -> str:
    """RS256 for an RSA key, ES256 for a P-256 key; ValueError otherwise."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
        private_key.curve, ec.SECP256R1
    ):
        return "ES256"
    raise ValueError("only RSA and EC P-256 keys are supported")


def load_signing_key(path: Path) -> SigningKey:
    """The key in the PEM file `path`; its kid is the file's stem."""
    private_key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    alg = algorithm_of(private_key)
    assert isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return SigningKey(Path(path).stem, alg, private_key, Path(path))


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"alg must be one of {ALGORITHMS}")


class IssuerError(Exception):
    """A request the issuer refuses: ``status`` and a short message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Issuer:
    """The keys kept in ``<directory>/keys`` and what the endpoints do with them."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.keys_dir = self.directory / "keys"
        self.retired_dir = self.directory / "retired"
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = [
            load_signing_key(path)
            for path in sorted(self.keys_dir.glob("*.pem"), key=lambda p: p.stat().st_mtime_ns)
        ]

    def served_keys(self) -> list[SigningKey]:
        """The served keys, oldest first."""
        with self._lock:
            return list(self._keys)

    def add_key(self, alg: str) -> SigningKey:
        private_key = generate_private_key(alg)
        kid = f"{alg.lower()}-{secrets.token_hex(4)}"
        path = self.keys_dir / f"{kid}.pem"
        write_private_key(path, private_key)
        key = SigningKey(kid, alg, private_key, path)
        with self._lock:
            self._keys.append(key)
        return key

    def ensure(self, algorithms: Sequence[str]) -> None:
        """At least one key for each of `algorithms`."""
        have = {key.alg for key in self.served_keys()}
        for alg in algorithms:
            if alg not in have:
                self.add_key(alg)
                have.add(alg)

    def retire(self, kid: str) -> SigningKey:
        with self._lock:
            found = next((key for key in self._keys if key.kid == kid), None)
            if found is None:
                raise IssuerError(404, "no such key")
            self._keys.remove(found)
        self.retired_dir.mkdir(exist_ok=True)
        found.path.replace(self.retired_dir / found.path.name)
        return found

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in reversed(self.served_keys())]}

    def mint(self, alg: str, claims: dict[str, Any], kid: str | None = None) -> str:
        candidates = [
            k for k in self.served_keys() if k.alg == alg and (kid is None or k.kid == kid)
        ]
        if not candidates:
            raise IssuerError(404, f"no served {alg} key" + (f" with kid {kid}" if kid else ""))
        key = candidates[-1]
        now = int(time.time())
        payload = {"iat": now, "exp": now + DEFAULT_TOKEN_TTL_SECONDS, **claims}
        return jwt.encode(payload, key.pem(), algorithm=alg, headers={"kid": key.kid})

    # -- HTTP ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            return 200, self._answer(method, path, body)
        except IssuerError as err:
            return err.status, {"error": str(err)}

    def _answer(self, method: str, path: str, body: bytes) -> Any:
        if path == JWKS_PATH:
            _require(method, "GET")
            return self.jwks()
        if path == "/admin/keys":
            if method == "POST":
                alg = _object(body).get("alg")
                if alg not in ALGORITHMS:
                    raise IssuerError(400, f"alg must be one of {list(ALGORITHMS)}")
                return _describe(self.add_key(alg))
            _require(method, "GET")
            return {"keys": [_describe(key) for key in self.served_keys()]}
        if match := _ADMIN_KEY.match(path):
            _require(method, "DELETE")
            return _describe(self.retire(match[1]))
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
            return {"token": self.mint(alg, claims, kid)}
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


class _Handler(BaseHTTPRequestHandler):
    server: IssuerServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "wslocal-issuer"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._send(413, {"error": "too large"}, close=True)
            return
        body = self.rfile.read(length) if length else b""
        status, payload = self.server.issuer.handle(self.command, self.path.split("?")[0], body)
        print(
            json.dumps({"method": self.command, "path": self.path.split("?")[0], "status": status}),
            file=sys.stderr,
            flush=True,
        )
        self._send(status, payload)

    def _send(self, status: int, payload: Any, *, close: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by _serve (no request lines, which may carry anything)."""


class IssuerServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 with the local CA's server certificate."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, issuer: Issuer, ca: LocalCA, port: int = 0) -> None:
        self.issuer = issuer
        super().__init__((HOST, port), _Handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(ca.server_cert_file, ca.server_key_file)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake runs here, in the request's thread: a client that connects and
        says nothing (a port probe) holds up no one."""
        request.settimeout(_Handler.timeout)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as err:
            print(
                json.dumps({"tls": "handshake failed", "error": type(err).__name__}),
                file=sys.stderr,
                flush=True,
            )
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.server_address[1]}"


# -- a client of the admin endpoints -----------------------------------------------------------


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
    with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
        return json.loads(answer.read())


# -- as a service of the local stack ---------------------------------------------------------


def issuer_dir(workdir: Path) -> Path:
    """Where the stack's issuer keeps its keys."""
    return Path(workdir) / "issuer"


def ca_file(workdir: Path) -> Path:
    """The local CA every process of the stack that calls the issuer trusts."""
    return LocalCA(Path(workdir) / "tls").ca_file


def issuer_service(
    port: int, algorithms: Sequence[str] = ALGORITHMS, *, tls_dir_name: str = "tls"
) -> Service:
    """The issuer on `port`, keys in ``<workdir>/issuer``, TLS from ``<workdir>/<tls_dir_name>``
    (another name than ``tls`` serves a certificate from a CA nobody trusts)."""

    def argv(info: StackInfo) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "wslocal.jwks_issuer",
            "--port",
            str(port),
            "--dir",
            str(issuer_dir(info.workdir)),
            "--tls-dir",
            str(Path(info.workdir) / tls_dir_name),
        ]
        for alg in algorithms:
            command += ["--alg", alg]
        return command

    return Service("issuer", argv, lambda config: port)


def trusting_gateway_service(extra_args: Sequence[str] = ()) -> Service:
    """The gateway whose workers trust the stack's CA (``SSL_CERT_FILE`` through the gateway's
    ``--worker-env``)."""

    def argv(info: StackInfo) -> Sequence[str]:
        trust = ["--worker-env", f"SSL_CERT_FILE={ca_file(info.workdir)}"]
        return gateway_service([*trust, *extra_args]).argv(info)

    return Service("gateway", argv, lambda config: config.gateway_port)


def jwks_backend_service(
    jwks_url: str,
    algorithms: Sequence[str] = ALGORITHMS,
    sessions: Sequence[str] = ("lab-1:alice", "lab-1:bob"),
) -> Service:
    """The reference backend verifying tokens by `jwks_url` instead of the HS256 secret."""
    base = backend_service(sessions)

    def argv(info: StackInfo) -> list[str]:
        command = list(base.argv(info))
        if "--jwt-secret-arn" in command:
            at = command.index("--jwt-secret-arn")
            del command[at : at + 2]
        command += ["--jwks-url", jwks_url, "--jwks-ca-file", str(ca_file(info.workdir))]
        for alg in algorithms:
            command += ["--jwt-algorithm", alg]
        return command

    def port(config: StackConfig) -> int:
        return base.port(config)

    return Service("backend", argv, port)


# -- CLI ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.jwks_issuer",
        description="Local token issuer: signing keys and their JWKS over HTTPS (local only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--dir", type=Path, required=True, help="keys live in DIR/keys")
    parser.add_argument("--tls-dir", type=Path, help="CA and server certificate (DIR/../tls)")
    parser.add_argument(
        "--alg", action="append", choices=ALGORITHMS, default=[], help="ensure a key (repeatable)"
    )
    args = parser.parse_args(argv)
    tls_dir = args.tls_dir or args.dir.resolve().parent / "tls"
    ca = ensure_ca(tls_dir)
    issuer = Issuer(args.dir)
    issuer.ensure(args.alg or ALGORITHMS)
    server = IssuerServer(issuer, ca, args.port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"issuer ready {server.url}{JWKS_PATH} ca {ca.ca_file}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
