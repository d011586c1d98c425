"""The issuer's signing keys: one PKCS#8 PEM file per key in ``<directory>/keys`` (named
``<kid>.pem``), their public JWKS, rotation and minting."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from wslocal.local_ca import write_private_key

__all__ = [
    "ALGORITHMS",
    "Issuer",
    "IssuerError",
    "SigningKey",
    "algorithm_of",
    "generate_private_key",
    "load_signing_key",
]

ALGORITHMS: Final = ("RS256", "ES256")
RSA_KEY_BITS: Final = 2048
DEFAULT_TOKEN_TTL_SECONDS: Final = 3600

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
