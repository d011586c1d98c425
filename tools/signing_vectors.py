"""Write or check sdk/vectors/signing.json: the request-signing test vectors that the Python
and the Node verifiers both check themselves against.

The cases are written here by hand (inputs and the outcome each must have); the canonical
strings and signatures are computed with ``ws_bridge_backend.signing``, the module the
connection handler signs with. The Node tests recompute them independently.

    python tools/signing_vectors.py --write    # after a deliberate change of the cases
    python tools/signing_vectors.py --check    # exit 1 when the file differs (a test runs it)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sdk" / "python" / "src"))

from ws_bridge_backend import signing  # noqa: E402

VECTORS = ROOT / "sdk" / "vectors" / "signing.json"

KEYS = {
    "current": "b1f0c0de" * 8,  # 64 characters, like the key the module creates
    "previous": "5ca1ab1e" * 8,
    "forger": "f0e1d2c3" * 8,
}
NOW = 1_800_000_000
NONCES = [f"{n:032x}" for n in range(0xA0, 0xC0)]
MESSAGE = (
    '{"type":"command","command":"ls é","connectionId":"Kx1=","sessionId":"lab@1","userId":"alice"}'
)
VALIDATE = (
    '{"connectionId":"Kx1=","sessionId":"lab@1","userId":"alice","sessionSource":"token",'
    '"tokenExpiresAt":1800003600}'
)
VALIDATE_PATH = "/api/labs/session/lab%401/validate"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACED = {"X-Connection-Id": "Kx1=", "traceparent": TRACE}


def _sign(
    key: str,
    method: str,
    path: str,
    body: str,
    headers: dict[str, str],
    timestamp: int,
    nonce: str,
) -> dict[str, str]:
    return signing.sign_request(
        KEYS[key].encode(), method, path, body.encode(), headers=headers, now=timestamp, nonce=nonce
    )


def _request(
    key: str = "current",
    *,
    method: str = "POST",
    path: str = "/api/ws/message",
    body: str = MESSAGE,
    signed: dict[str, str] | None = None,
    timestamp: int = NOW,
    nonce: int = 0,
    extra: dict[str, str] | None = None,
    change: dict[str, str | None] | None = None,
    send: dict[str, str] | None = None,
    expect: str = "ok",
) -> dict[str, Any]:
    """A request signed with ``key`` over ``signed`` headers, then sent with ``extra``
    headers added, ``change`` applied to the signature headers (None: removed) and the
    method, path or body of ``send`` instead of the signed ones."""
    signed = {"X-Connection-Id": "Kx1="} if signed is None else signed
    headers = {**signed, **_sign(key, method, path, body, signed, timestamp, NONCES[nonce])}
    for name, value in (change or {}).items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    headers.update(extra or {})
    sent = {"method": method, "path": path, "body": body, **(send or {})}
    case: dict[str, Any] = {**sent, "headers": headers, "expect": expect}
    if expect == "ok":
        case["signed_headers"] = {name.lower(): value for name, value in signed.items()}
        if "traceparent" in case["signed_headers"]:  # what the verifier exposes as such
            case["traceparent"] = case["signed_headers"]["traceparent"]
    return case


def signing_cases() -> list[dict[str, Any]]:
    cases = [
        ("message", "POST", "/api/ws/message", MESSAGE, {"X-Connection-Id": "Kx1="}),
        (
            "validate",
            "POST",
            VALIDATE_PATH,
            VALIDATE,
            {"Authorization": BEARER, "X-Connection-Id": "Kx1="},
        ),
        ("no signed headers, empty body", "GET", "/health", "", {}),
        ("message with a trace", "POST", "/api/ws/message", MESSAGE, TRACED),
    ]
    out = []
    for number, (name, method, path, body, headers) in enumerate(cases):
        nonce = NONCES[number]
        lowered = {key.lower(): value for key, value in headers.items()}
        canonical = signing.canonical_request(method, path, str(NOW), nonce, lowered, body.encode())
        out.append(
            {
                "name": name,
                "key": "current",
                "method": method,
                "path": path,
                "timestamp": NOW,
                "nonce": nonce,
                "headers": headers,
                "body": body,
                "canonical": canonical.decode("latin-1"),
                "signature_headers": _sign("current", method, path, body, headers, NOW, nonce),
            }
        )
    return out


def verification_cases() -> list[dict[str, Any]]:
    """Each case: a fresh verifier with ``keys`` and the clock at ``now``, then ``requests``
    in order (the replay store keeps what the earlier ones left)."""
    # A table of cases, one dict each: data, not logic.
    both = ["current", "previous"]
    return [
        {
            "name": "accepted once, then refused as a replay",
            "keys": ["current"],
            "now": NOW,
            "requests": [_request(), _request(expect="replayed")],
        },
        {
            "name": "rotation: both keys accepted while both are held",
            "keys": both,
            "now": NOW,
            "requests": [_request("previous", nonce=1), _request("current", nonce=2)],
        },
        {
            "name": "rotation: a key no longer held is refused",
            "keys": ["current"],
            "now": NOW,
            "requests": [_request("previous", nonce=3, expect="bad_signature")],
        },
        {
            "name": "a forger's key is refused",
            "keys": both,
            "now": NOW,
            "requests": [_request("forger", nonce=4, expect="bad_signature")],
        },
        {
            "name": "timestamps at the edges of the window",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(timestamp=NOW - 300, nonce=5),
                _request(timestamp=NOW + 300, nonce=6),
                _request(timestamp=NOW - 301, nonce=7, expect="stale"),
                _request(timestamp=NOW + 301, nonce=8, expect="stale"),
            ],
        },
        {
            "name": "a trusted header outside the signature is refused",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(
                    signed={}, extra={"X-Connection-Id": "Kx1="}, nonce=9, expect="unsigned_header"
                ),
                _request(extra={"Authorization": BEARER}, nonce=10, expect="unsigned_header"),
                _request(extra={"X-Other": "not trusted, not signed"}, nonce=11),
            ],
        },
        {
            "name": "signed headers: validate with Authorization, names in any case",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(
                    path=VALIDATE_PATH,
                    body=VALIDATE,
                    signed={"AUTHORIZATION": BEARER, "x-CONNECTION-id": "Kx1="},
                    nonce=12,
                ),
            ],
        },
        {
            "name": "tampering with what the signature covers",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(nonce=13, extra={"X-Connection-Id": "other"}, expect="bad_signature"),
                _request(nonce=14, send={"path": "/api/ws/disconnect"}, expect="bad_signature"),
                _request(nonce=15, send={"method": "PUT"}, expect="bad_signature"),
                _request(
                    nonce=16,
                    send={"body": MESSAGE.replace("alice", "mallory")},
                    expect="bad_signature",
                ),
                _request(
                    nonce=17,
                    change={"X-Bridge-Signed-Headers": ""},
                    expect="unsigned_header",
                ),
                _request(
                    nonce=18,
                    signed={},
                    change={"X-Bridge-Signed-Headers": "x-connection-id"},
                    expect="missing_signed_header",
                ),
            ],
        },
        {
            "name": "a message's traceparent is signed: unsigned or tampered, refused",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(signed=TRACED, nonce=25),
                _request(extra={"traceparent": TRACE}, nonce=26, expect="unsigned_header"),
                _request(
                    signed=TRACED,
                    extra={"traceparent": TRACE.replace("4bf9", "4bf8")},
                    nonce=27,
                    expect="bad_signature",
                ),
            ],
        },
        {
            "name": "malformed signature headers",
            "keys": ["current"],
            "now": NOW,
            "requests": [
                _request(nonce=19, change={"X-Bridge-Signature": None}, expect="missing_headers"),
                _request(
                    nonce=20, change={"X-Bridge-Signed-Headers": None}, expect="missing_headers"
                ),
                _request(nonce=21, change={"X-Bridge-Timestamp": "1.8e9"}, expect="bad_timestamp"),
                _request(nonce=22, change={"X-Bridge-Nonce": "A" * 32}, expect="bad_nonce"),
                _request(
                    nonce=23,
                    change={"X-Bridge-Signature": "v1=" + "0" * 64},
                    expect="bad_signature_format",
                ),
                _request(
                    nonce=24,
                    signed={"Authorization": BEARER, "X-Connection-Id": "Kx1="},
                    change={"X-Bridge-Signed-Headers": "x-connection-id;authorization"},
                    expect="bad_signed_headers",
                ),
            ],
        },
    ]


def vectors() -> dict[str, Any]:
    return {
        "about": "Request signing v2 test vectors (docs/design.md, 'Request signing'). Keys are "
        "the UTF-8 bytes of the strings; bodies the UTF-8 bytes of theirs. Written by "
        "tools/signing_vectors.py.",
        "keys": KEYS,
        "window_seconds": signing.MAX_CLOCK_SKEW_SECONDS,
        "min_key_bytes": signing.MIN_KEY_BYTES,
        "trusted_headers": list(signing.TRUSTED_HEADERS),
        "refused_keys": ["", "too-short-a-key"],
        "signing": signing_cases(),
        "verification": verification_cases(),
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        VECTORS.write_text(text, encoding="utf-8")
        return 0
    if VECTORS.read_text(encoding="utf-8") != text:
        print(
            f"{VECTORS} is out of date: run python tools/signing_vectors.py --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
