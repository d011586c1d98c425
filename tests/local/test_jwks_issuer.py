"""The local issuer: its JWKS over HTTPS with the local CA, rotation, minting from key files,
and the trust the gateway's workers get from SSL_CERT_FILE."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest

from ws_bridge.jwt_verifier import InvalidTokenError, KeyUnavailableError, TokenVerifier
from wslocal.client import cli as client
from wslocal.devtoken import TokenCheck, authorizer_settings, mint_token
from wslocal.http_server import LocalServer
from wslocal.jwks_issuer import JWKS_PATH, Issuer, admin_request, serve
from wslocal.local_ca import LocalCA, ensure_ca

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://issuer.local.test/"
AUDIENCE = "labs"


@dataclass
class RunningIssuer:
    issuer: Issuer
    server: LocalServer
    ca: LocalCA

    @property
    def jwks_url(self) -> str:
        return self.server.url + JWKS_PATH

    def admin(self, method: str, path: str, body: object = None) -> object:
        return admin_request(self.server.url, method, path, self.ca.ca_file, body)

    def verifier(self) -> JwksCheck:
        context = ssl.create_default_context(cafile=str(self.ca.ca_file))
        settings = authorizer_settings(
            algorithms=("RS256", "ES256"),
            jwks_url=self.jwks_url,
            issuer=ISSUER,
            audience=AUDIENCE,
        )
        client = jwt.PyJWKClient(self.jwks_url, ssl_context=context, cooldown_duration=0)
        return JwksCheck(TokenCheck(settings, TokenVerifier(settings, jwks_client=client)))


@dataclass
class JwksCheck:
    """The authorizer's own verification (TokenCheck) of a token, answering its claims."""

    check: TokenCheck

    def verify(self, token: str) -> dict[str, object]:
        return dict(self.check.identify(token).claims)


def _start(tmp_path: Path, tls: str = "tls") -> tuple[Issuer, LocalServer, LocalCA]:
    ca = ensure_ca(tmp_path / tls)
    issuer = Issuer(tmp_path / "issuer")
    issuer.ensure(["RS256", "ES256"])
    server = serve(issuer, ca).start()
    return issuer, server, ca


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningIssuer]:
    issuer, server, ca = _start(tmp_path)
    try:
        yield RunningIssuer(issuer, server, ca)
    finally:
        server.stop()


def _mint(key_file: str, alg: str, **claims: object) -> str:
    return mint_token(
        Path(key_file).read_text(),
        sub="alice",
        session_id="lab-1",
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithm=alg,
        kid=Path(key_file).stem,
        extra_claims=claims,
    )


def test_the_jwks_is_served_over_https_trusted_through_the_local_ca(
    running: RunningIssuer, tmp_path: Path
) -> None:
    jwks = running.admin("GET", JWKS_PATH)
    assert isinstance(jwks, dict)
    by_alg = {key["alg"]: key for key in jwks["keys"]}
    assert set(by_alg) == {"RS256", "ES256"}
    assert by_alg["RS256"]["kty"] == "RSA"
    assert by_alg["ES256"]["kty"] == "EC"
    assert all(key["use"] == "sig" and key["kid"] for key in jwks["keys"])
    # Public parts only: no private exponent or scalar ever leaves the issuer.
    assert not any("d" in key for key in jwks["keys"])
    # Trusting another CA, the certificate is not trusted.
    other = ensure_ca(tmp_path / "other-tls")
    with pytest.raises(urllib.error.URLError) as refused:
        admin_request(running.server.url, "GET", JWKS_PATH, other.ca_file)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_token_minted_from_the_key_file_verifies_by_jwks(
    running: RunningIssuer, alg: str
) -> None:
    key = next(k for k in running.issuer.served_keys() if k.alg == alg)
    token = _mint(str(key.path), alg)
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": key.kid, "typ": "JWT"}
    claims = running.verifier().verify(token)
    assert claims["sub"] == "alice"
    assert claims["sessionId"] == "lab-1"


def test_the_admin_endpoint_mints_with_the_newest_key(running: RunningIssuer) -> None:
    answer = running.admin(
        "POST",
        "/admin/tokens",
        {"alg": "ES256", "claims": {"sub": "bob", "iss": ISSUER, "aud": AUDIENCE}},
    )
    assert isinstance(answer, dict)
    assert running.verifier().verify(answer["token"])["sub"] == "bob"


def test_rotation_serves_both_keys_until_the_old_one_is_retired(running: RunningIssuer) -> None:
    verifier = running.verifier()
    old = next(k for k in running.issuer.served_keys() if k.alg == "RS256")
    old_token = _mint(str(old.path), "RS256")
    assert verifier.verify(old_token)

    added = running.admin("POST", "/admin/keys", {"alg": "RS256"})
    assert isinstance(added, dict)
    assert added["kid"] != old.kid
    new_token = _mint(added["keyFile"], "RS256")
    assert verifier.verify(new_token)["sub"] == "alice"
    assert verifier.verify(old_token)["sub"] == "alice"

    running.admin("DELETE", f"/admin/keys/{old.kid}")
    served = {key["kid"] for key in running.issuer.jwks()["keys"]}
    assert old.kid not in served
    assert added["kid"] in served
    # A verifier that fetches the key set now no longer accepts the retired key's tokens
    # (one that still holds the set it fetched before does, until its cache expires).
    fresh = running.verifier()
    with pytest.raises(InvalidTokenError):
        fresh.verify(old_token)
    assert fresh.verify(new_token)


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    first = Issuer(tmp_path / "issuer")
    first.ensure(["RS256", "ES256"])
    second = Issuer(tmp_path / "issuer")
    second.ensure(["RS256", "ES256"])
    assert second.jwks() == first.jwks()


def test_a_token_signed_by_another_key_with_a_served_kid_is_refused(
    running: RunningIssuer, tmp_path: Path
) -> None:
    served = next(k for k in running.issuer.served_keys() if k.alg == "RS256")
    impostor = Issuer(tmp_path / "impostor").add_key("RS256")
    forged = mint_token(
        impostor.pem(),
        sub="alice",
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithm="RS256",
        kid=served.kid,
    )
    with pytest.raises(InvalidTokenError, match="bad_signature"):
        running.verifier().verify(forged)


def test_an_unreachable_jwks_is_not_reported_as_a_bad_token(tmp_path: Path) -> None:
    issuer, server, ca = _start(tmp_path)
    key = next(k for k in issuer.served_keys() if k.alg == "RS256")
    verifier = RunningIssuer(issuer, server, ca).verifier()
    server.stop()
    with pytest.raises(KeyUnavailableError):
        verifier.verify(_mint(str(key.path), "RS256"))


def _fetch_in_a_child(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """PyJWKClient with Python's default SSL context, as the authorizer builds it."""
    code = (
        "import sys, jwt\n"
        "try:\n"
        "    print(len(jwt.PyJWKClient(sys.argv[1], timeout=5).get_jwk_set().keys))\n"
        "except jwt.PyJWKClientConnectionError as e:\n"
        "    print('refused', 'CERTIFICATE_VERIFY_FAILED' in str(e))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_ssl_cert_file_is_what_makes_the_default_context_trust_the_issuer(
    running: RunningIssuer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    trusted = _fetch_in_a_child(running.jwks_url, {**env, "SSL_CERT_FILE": str(running.ca.ca_file)})
    assert trusted.stdout.strip() == "2"
    untrusted = _fetch_in_a_child(running.jwks_url, env)
    assert untrusted.stdout.strip() == "refused True"
    # Another CA of the same kind is not enough either.
    other = ensure_ca(tmp_path / "other-tls")
    wrong = _fetch_in_a_child(running.jwks_url, {**env, "SSL_CERT_FILE": str(other.ca_file)})
    assert wrong.stdout.strip() == "refused True"


def test_the_ca_is_made_once_and_its_keys_are_private(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path / "tls")
    before = ca.ca_file.read_bytes()
    assert ensure_ca(tmp_path / "tls").ca_file.read_bytes() == before
    assert ca.ca_key_file.stat().st_mode & 0o077 == 0
    assert ca.server_key_file.stat().st_mode & 0o077 == 0


def test_client_mint_signs_with_a_key_file(
    running: RunningIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    key = next(k for k in running.issuer.served_keys() if k.alg == "ES256")
    argv = ["mint", "--alg", "ES256", "--key-file", str(key.path), "--sub", "carol"]
    argv += ["--session", "lab-2", "--iss", ISSUER, "--aud", AUDIENCE]
    assert client.main(argv) == client.EXIT_OK
    token = capsys.readouterr().out.strip()
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    assert running.verifier().verify(token)["sessionId"] == "lab-2"


@pytest.mark.parametrize(
    "argv",
    [
        ["mint", "--alg", "RS256", "--secret", "x" * 32, "--sub", "a"],
        ["mint", "--key-file", "/nonexistent.pem", "--sub", "a"],
        ["mint", "--alg", "RS256", "--key-file", "/nonexistent.pem", "--sub", "a"],
    ],
)
def test_client_mint_refuses_a_key_that_does_not_fit_the_algorithm(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.main(argv) == client.EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


def test_the_issuer_cli_prints_a_ready_line_the_stack_reads(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda'}:{ROOT / 'local'}"}
    with subprocess.Popen(
        [sys.executable, "-m", "wslocal.jwks_issuer", "--dir", str(tmp_path / "issuer")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("issuer ready https://127.0.0.1:")
            url = line.split()[2].removesuffix(JWKS_PATH)
            jwks = admin_request(url, "GET", JWKS_PATH, tmp_path / "tls" / "ca.pem")
            assert len(json.loads(json.dumps(jwks))["keys"]) == 2
        finally:
            process.terminate()
            process.wait(timeout=10)
