"""RS256/ES256 end to end: the module deployed with `jwt.jwks_url` pointing at the local issuer
(HTTPS, a certificate from the CA the stack generates), the authorizer fetching the key set in
the gateway's workers (which trust that CA through SSL_CERT_FILE), and the reference backend
verifying the same tokens by the same JWKS.

The stack runs one warm worker per function (`--workers 1`), so the authorizer's key-set cache
is one PyJWKClient and the tests can reason about it: the set is cached for 300 s, and a token
whose `kid` is not in it makes the client fetch the set again, at most once every 30 s after
a successful fetch (PyJWT's cooldown). The tests wait out that cooldown where they need a fetch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from wslocal.devtoken import mint_token
from wslocal.jwks_issuer import (
    JWKS_PATH,
    Issuer,
    admin_request,
    ca_file,
    issuer_dir,
    issuer_service,
    jwks_backend_service,
    trusting_gateway_service,
)
from wslocal.stack import Stack, StackConfig, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ISSUER = "https://issuer.local.test/"
AUDIENCE = "labs"
SESSIONS = ("lab-1:alice", "lab-1:bob")
# PyJWKClient's cooldown between a successful fetch and a refetch for an unknown kid, plus margin.
REFETCH_COOLDOWN_SECONDS = 30.0 + 2.0
OPEN = 101


@dataclass
class JwksStack:
    local: Stack
    ws_url: str
    issuer_url: str
    issuer_port: int
    # When the authorizer (and the backend) last fetched the key set successfully, at the latest.
    fetched_at: float = field(default_factory=time.monotonic)

    @property
    def workdir(self) -> Path:
        assert self.local.workdir is not None
        return self.local.workdir

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return admin_request(self.issuer_url, method, path, ca_file(self.workdir), body)

    def key_file(self, alg: str, newest: bool = False) -> Path:
        keys = [k for k in self.admin("GET", "/admin/keys")["keys"] if k["alg"] == alg]
        return Path(keys[-1 if newest else 0]["keyFile"])

    def token(self, key_file: Path, sub: str = "alice", session: str = "lab-1") -> str:
        alg = "RS256" if key_file.stem.startswith("rs256") else "ES256"
        return mint_token(
            key_file.read_text(),
            sub=sub,
            session_id=session,
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithm=alg,
            kid=key_file.stem,
        )

    def unpublished_key(self) -> Path:
        """A key of the right kind that the issuer never served."""
        return Issuer(self.workdir / "unpublished").add_key("RS256").path

    def session(self, token: str, *, may_fetch: bool) -> tuple[int, Any]:
        """Connect with `token`; (101, the reply to a command) or (the handshake status, None).
        `may_fetch`: the authorizer may fetch the key set for this token (tracks the cooldown)."""
        url = f"{self.ws_url}?{urlencode({'token': token})}"
        try:
            with connect(url, open_timeout=30, proxy=None) as ws:
                ws.send(json.dumps({"type": "command", "command": "whoami"}))
                reply = json.loads(ws.recv(timeout=30))
                status: tuple[int, Any] = (OPEN, reply)
        except InvalidStatus as refused:
            status = (refused.response.status_code, None)
        if may_fetch and status[0] == OPEN:
            self.fetched_at = time.monotonic()
        return status

    def wait_out_cooldown(self) -> None:
        remaining = self.fetched_at + REFETCH_COOLDOWN_SECONDS - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")


def _distinct_ports(count: int) -> list[int]:
    for _ in range(50):
        ports = [free_port() for _ in range(count)]
        if len(set(ports)) == count:
            return ports
    raise RuntimeError("no distinct free ports")


def _gateway_passes_worker_env() -> bool:
    """Whether `python -m wslocal.gateway` has --worker-env (how SSL_CERT_FILE reaches the
    workers; the gateway passes no other variable of its own environment through)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root / 'lambda'}{os.pathsep}{root / 'local'}"}
    result = subprocess.run(
        [sys.executable, "-m", "wslocal.gateway", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--worker-env" in result.stdout


@pytest.fixture(scope="module")
def jwks_stack() -> Iterator[JwksStack]:
    assert _gateway_passes_worker_env(), (
        "the local gateway has no --worker-env: its workers cannot be told to trust the "
        "stack's CA (SSL_CERT_FILE)"
    )
    emulator, gateway, backend, connections, issuer = _distinct_ports(5)
    jwks_url = f"https://127.0.0.1:{issuer}{JWKS_PATH}"
    config = StackConfig(
        emulator_port=emulator,
        gateway_port=gateway,
        backend_port=backend,
        connections_port=connections,
        name="ws-jwks",
        # The emulator is the stack's own and stops with it: a destroy would only take
        # time (test_emulator, test_demo and the acceptance suite check destroy).
        destroy_on_exit=False,
        variables={
            "jwt_algorithms": ["RS256", "ES256"],
            "jwt_jwks_url": jwks_url,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
        },
        services=(
            issuer_service(issuer),
            jwks_backend_service(jwks_url, sessions=SESSIONS),
            trusting_gateway_service(["--workers", "1"]),
        ),
    )
    with Stack(config) as local:
        yield JwksStack(
            local=local,
            ws_url=f"ws://127.0.0.1:{gateway}/{local.outputs.stage_name}",
            issuer_url=f"https://127.0.0.1:{issuer}",
            issuer_port=issuer,
        )


def test_the_module_got_the_jwks_url_and_the_ca_reached_the_workers(
    jwks_stack: JwksStack,
) -> None:
    lambda_ = jwks_stack.local.client("lambda")
    name = jwks_stack.local.outputs.authorizer_function_name
    config = lambda_.get_function_configuration(FunctionName=name)
    env = config["Environment"]["Variables"]
    assert env["JWT_JWKS_URL"] == f"{jwks_stack.issuer_url}{JWKS_PATH}"
    assert env["JWT_ALGORITHMS"].replace(" ", "") in ("RS256,ES256", '["RS256","ES256"]')
    assert "JWT_SECRET_ARN" not in env or not env["JWT_SECRET_ARN"]
    gateway = jwks_stack.local.services["gateway"]
    assert f"SSL_CERT_FILE={ca_file(jwks_stack.workdir)}" in gateway.argv
    assert ca_file(jwks_stack.workdir).is_file()
    assert (issuer_dir(jwks_stack.workdir) / "keys").is_dir()


@pytest.mark.parametrize(("alg", "user"), [("RS256", "alice"), ("ES256", "bob")])
def test_rs256_and_es256_tokens_connect_and_reach_the_backend(
    jwks_stack: JwksStack, alg: str, user: str
) -> None:
    token = jwks_stack.token(jwks_stack.key_file(alg), sub=user)
    status, reply = jwks_stack.session(token, may_fetch=True)
    assert status == OPEN
    assert reply["type"] == "command_result"
    assert reply["userId"] == user
    assert reply["sessionId"] == "lab-1"


def test_a_token_signed_by_another_key_under_a_served_kid_is_refused(
    jwks_stack: JwksStack,
) -> None:
    served = jwks_stack.key_file("RS256")
    forged = mint_token(
        jwks_stack.unpublished_key().read_text(),
        sub="alice",
        session_id="lab-1",
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithm="RS256",
        kid=served.stem,
    )
    assert jwks_stack.session(forged, may_fetch=False) == (401, None)


def test_a_jwks_outage_refuses_unknown_keys_and_keeps_cached_ones(jwks_stack: JwksStack) -> None:
    old_token = jwks_stack.token(jwks_stack.key_file("RS256"))
    assert jwks_stack.session(old_token, may_fetch=True)[0] == OPEN
    jwks_stack.wait_out_cooldown()  # so that an unknown kid makes the authorizer fetch again
    jwks_stack.local.stop_service("issuer")
    try:
        gateway_log = len(jwks_stack.log("gateway"))
        # An unknown kid needs the key set, which cannot be had: a fault on our side, so
        # the authorizer fails (500: retry later) instead of denying (403) the token.
        unknown = jwks_stack.token(jwks_stack.unpublished_key())
        assert jwks_stack.session(unknown, may_fetch=False) == (500, None)
        assert "verification key unavailable" in jwks_stack.log("gateway")[gateway_log:]
        # Keys fetched before the outage still verify: the authorizer and the backend both
        # keep the set they have.
        status, reply = jwks_stack.session(old_token, may_fetch=False)
        assert status == OPEN
        assert reply["userId"] == "alice"

        # The issuer comes back with a certificate from a CA the workers do not trust: the
        # fetch fails in the TLS handshake, the connect is refused the same way, and the
        # authorizer's log says it was the certificate.
        jwks_stack.local.start_service(
            issuer_service(jwks_stack.issuer_port, tls_dir_name="tls-untrusted")
        )
        issuer_log = len(jwks_stack.log("issuer"))
        gateway_log = len(jwks_stack.log("gateway"))
        assert jwks_stack.session(unknown, may_fetch=False) == (500, None)
        gateway_said = jwks_stack.log("gateway")[gateway_log:]
        assert "verification key unavailable" in gateway_said
        assert "TLS certificate verification failed" in gateway_said
        issuer_said = jwks_stack.log("issuer")[issuer_log:]
        assert "handshake failed" in issuer_said
        # No request got through the handshake: the issuer logs each one it serves as JSON
        # (its "ready" line, which may land after the slice began, names the path too).
        assert f'"path": "{JWKS_PATH}"' not in issuer_said
    finally:
        jwks_stack.local.stop_service("issuer")
        jwks_stack.local.start_service(issuer_service(jwks_stack.issuer_port))


def test_a_rotated_key_is_picked_up_while_the_old_one_still_works(jwks_stack: JwksStack) -> None:
    old_token = jwks_stack.token(jwks_stack.key_file("RS256"))
    added = jwks_stack.admin("POST", "/admin/keys", {"alg": "RS256"})
    new_key = Path(added["keyFile"])
    assert new_key.stem == added["kid"]
    jwks_stack.wait_out_cooldown()

    status, reply = jwks_stack.session(jwks_stack.token(new_key, sub="bob"), may_fetch=True)
    assert status == OPEN
    assert reply["userId"] == "bob"
    status, reply = jwks_stack.session(old_token, may_fetch=False)
    assert status == OPEN
    assert reply["userId"] == "alice"
    # The issuer's own endpoint signs with the newest key.
    minted = jwks_stack.admin(
        "POST",
        "/admin/tokens",
        {
            "alg": "RS256",
            "claims": {"sub": "alice", "sessionId": "lab-1", "iss": ISSUER, "aud": AUDIENCE},
        },
    )["token"]
    assert jwks_stack.session(minted, may_fetch=False)[0] == OPEN
