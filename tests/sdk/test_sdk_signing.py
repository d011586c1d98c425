"""The signature v2 and its shared vectors: the canonical form as docs/design.md writes it,
the key checks, and every case of sdk/vectors/signing.json through the SDK's verifier (the
Node package checks the same file)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ws_bridge_backend.calls import BridgeGate
from ws_bridge_backend.keys import CallableKeys, StaticKeys
from ws_bridge_backend.signing import (
    MIN_KEY_BYTES,
    InvalidKeyError,
    canonical_request,
    check_keys,
    key_from_secret,
    sign_request,
)
from ws_bridge_backend.verifier import REASONS, RequestVerifier, SignatureError

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "sdk" / "vectors" / "signing.json").read_text(encoding="utf-8"))
KEY = b"k" * 40
NOW = 1_800_000_000


def test_the_vectors_file_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "signing_vectors.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_canonical_form_is_the_documented_one() -> None:
    body = '{"a":"é"}'.encode()
    headers = {"x-connection-id": "Kx1=", "authorization": "Bearer t"}
    canonical = canonical_request("post", "/p%40q", "1800000000", "ab" * 16, headers, body)

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    assert (
        canonical
        == (
            "v2\nPOST\n/p%40q\n1800000000\n" + "ab" * 16 + "\n"
            "authorization;x-connection-id\n"
            f"authorization:{sha(b'Bearer t')}\n"
            f"x-connection-id:{sha(b'Kx1=')}\n"
            f"{sha(body)}"
        ).encode()
    )
    both = {"X-Connection-Id": "Kx1=", "Authorization": "Bearer t"}
    signed = sign_request(KEY, "POST", "/p%40q", body, headers=both, now=NOW, nonce="ab" * 16)
    expected = hmac.new(KEY, canonical, hashlib.sha256).hexdigest()
    assert signed == {
        "X-Bridge-Timestamp": "1800000000",
        "X-Bridge-Nonce": "ab" * 16,
        "X-Bridge-Signed-Headers": "authorization;x-connection-id",
        "X-Bridge-Signature": f"v2={expected}",
    }
    fresh = sign_request(KEY, "GET", "/x")
    assert len(fresh["X-Bridge-Nonce"]) == 32
    assert fresh["X-Bridge-Nonce"] != sign_request(KEY, "GET", "/x")["X-Bridge-Nonce"]


@pytest.mark.parametrize(
    "headers",
    [{"X-Connection-Id": " padded"}, {"Bad Name": "x"}, {"a": "1", "A": "2"}],
    ids=["whitespace", "name", "duplicate"],
)
def test_headers_that_could_not_verify_are_not_signed(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"header|whitespace"):
        sign_request(KEY, "POST", "/m", headers=headers)


@pytest.mark.parametrize(
    "keys",
    [[], [b""], [b"short"], [b"x" * (MIN_KEY_BYTES - 1)], ["a string key" * 4], [KEY, b""]],
    ids=["none", "empty", "short", "one-byte-short", "str", "one-bad"],
)
def test_every_key_source_refuses_empty_short_and_missing_keys(keys: list[Any]) -> None:
    with pytest.raises(InvalidKeyError):
        check_keys(keys)
    with pytest.raises(InvalidKeyError):
        RequestVerifier(keys)  # the constructor
    from_callable = RequestVerifier(lambda: keys, clock=lambda: NOW)  # checked on every request
    headers = sign_request(KEY, "GET", "/v", now=NOW)
    with pytest.raises(InvalidKeyError):
        from_callable.verify("GET", "/v", headers, b"")
    with pytest.raises(InvalidKeyError):
        CallableKeys(lambda: keys).current()
    with pytest.raises(InvalidKeyError):
        StaticKeys(keys)


def test_the_empty_key_never_verifies_a_request_signed_with_it() -> None:
    # What a forger could sign without knowing anything: HMAC with the empty key.
    canonical = canonical_request("GET", "/v", str(NOW), "ab" * 16, {}, b"")
    forged = {
        "X-Bridge-Timestamp": str(NOW),
        "X-Bridge-Nonce": "ab" * 16,
        "X-Bridge-Signed-Headers": "",
        "X-Bridge-Signature": "v2=" + hmac.new(b"", canonical, hashlib.sha256).hexdigest(),
    }
    verifier = RequestVerifier(lambda: [b""], clock=lambda: NOW)
    with pytest.raises(InvalidKeyError):
        verifier.verify("GET", "/v", forged, b"")
    with pytest.raises(InvalidKeyError):
        sign_request(b"", "GET", "/v")


def test_a_secret_value_becomes_a_checked_key() -> None:
    assert key_from_secret({"SecretString": "é" * 20}) == ("é" * 20).encode()
    assert key_from_secret({"SecretBinary": KEY}) == KEY
    for answer in ({"SecretString": ""}, {"SecretString": "short"}, {}):
        with pytest.raises(InvalidKeyError):
            key_from_secret(answer)


# ---------------------------------------------------------------------------- the vectors


def _key(name: str) -> bytes:
    return str(VECTORS["keys"][name]).encode()


@pytest.mark.parametrize("case", VECTORS["signing"], ids=lambda case: case["name"])
def test_signing_vectors(case: dict[str, Any]) -> None:
    headers = {name.lower(): value for name, value in case["headers"].items()}
    body = case["body"].encode()
    canonical = canonical_request(
        case["method"], case["path"], str(case["timestamp"]), case["nonce"], headers, body
    )
    assert canonical.decode("latin-1") == case["canonical"]
    signature = hmac.new(_key(case["key"]), canonical, hashlib.sha256).hexdigest()
    assert case["signature_headers"]["X-Bridge-Signature"] == f"v2={signature}"
    assert (
        sign_request(
            _key(case["key"]), case["method"], case["path"], body,
            headers=case["headers"], now=case["timestamp"], nonce=case["nonce"],
        )
        == case["signature_headers"]
    )  # fmt: skip


@pytest.mark.parametrize("case", VECTORS["verification"], ids=lambda case: case["name"])
def test_verification_vectors(case: dict[str, Any]) -> None:
    verifier = RequestVerifier(
        [_key(name) for name in case["keys"]],
        window_seconds=VECTORS["window_seconds"],
        clock=lambda: case["now"],
    )
    for request in case["requests"]:
        try:
            signed = verifier.verify(
                request["method"], request["path"], request["headers"], request["body"].encode()
            )
        except SignatureError as exc:
            outcome = exc.reason
        else:
            outcome = "ok"
            assert dict(signed.headers) == request["signed_headers"]
            assert signed.traceparent == request.get("traceparent")
        assert outcome == request["expect"]


def test_the_vectors_cover_every_refusal_reason() -> None:
    seen = {r["expect"] for case in VECTORS["verification"] for r in case["requests"]}
    assert seen == {"ok", *REASONS}


def test_the_vectors_list_the_trusted_headers_and_key_rules() -> None:
    from ws_bridge_backend import signing

    assert VECTORS["trusted_headers"] == list(signing.TRUSTED_HEADERS)
    assert VECTORS["min_key_bytes"] == signing.MIN_KEY_BYTES
    for refused in VECTORS["refused_keys"]:
        with pytest.raises(InvalidKeyError):
            check_keys([refused.encode()])


# ---------------------------------------------------------------------------- traceparent

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _message_call(traceparent: str) -> tuple[dict[str, str], bytes]:
    body = b'{"type":"command","connectionId":"Kx1=","sessionId":"s","userId":"u"}'
    signed = {"X-Connection-Id": "Kx1=", "traceparent": traceparent}
    headers = {**signed, **sign_request(KEY, "POST", "/api/ws/message", body, headers=signed)}
    return headers, body


def test_the_gate_hands_the_app_the_message_s_signed_traceparent() -> None:
    headers, body = _message_call(TRACE)
    call = BridgeGate(RequestVerifier([KEY])).check("POST", "/api/ws/message", headers, body)
    assert call is not None
    assert call.traceparent == TRACE
    assert call.headers["traceparent"] == TRACE


def test_a_tampered_or_unsigned_traceparent_is_refused() -> None:
    verifier = RequestVerifier([KEY])
    headers, body = _message_call(TRACE)
    tampered = {**headers, "traceparent": TRACE.replace("-01", "-00")}
    with pytest.raises(SignatureError, match="bad_signature"):
        verifier.verify("POST", "/api/ws/message", tampered, body)
    unsigned = {"X-Connection-Id": "Kx1="}
    headers = {**unsigned, **sign_request(KEY, "POST", "/p", body, headers=unsigned)}
    with pytest.raises(SignatureError, match="unsigned_header"):
        verifier.verify("POST", "/p", {**headers, "TraceParent": TRACE}, body)


def test_a_signed_but_invalid_traceparent_is_not_handed_on() -> None:
    headers, body = _message_call("00-" + "0" * 32 + "-00f067aa0ba902b7-01")
    signed = RequestVerifier([KEY]).verify("POST", "/api/ws/message", headers, body)
    assert signed.traceparent is None
