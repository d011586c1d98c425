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

One module per job: ``keys`` (the signing keys), ``app`` (the HTTPS endpoints on
``wslocal.http_server`` and their client), ``services`` (stack services), ``cli``.
"""

from wslocal.jwks_issuer.app import JWKS_PATH, admin_request, serve
from wslocal.jwks_issuer.keys import (
    ALGORITHMS,
    Issuer,
    IssuerError,
    SigningKey,
    load_signing_key,
)
from wslocal.jwks_issuer.services import (
    ca_file,
    issuer_dir,
    issuer_service,
    jwks_backend_service,
    trusting_gateway_service,
)

__all__ = [
    "ALGORITHMS",
    "JWKS_PATH",
    "Issuer",
    "IssuerError",
    "SigningKey",
    "admin_request",
    "ca_file",
    "issuer_dir",
    "issuer_service",
    "jwks_backend_service",
    "load_signing_key",
    "serve",
    "trusting_gateway_service",
]
