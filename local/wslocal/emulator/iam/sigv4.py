"""The parts of a Signature Version 4 request AWS checks before the signature itself
(reference_sigv-create-signed-request.html, reference_sigv-troubleshooting.html):

- the `Authorization` header names `AWS4-HMAC-SHA256`, a credential scope
  `<key>/<yyyymmdd>/<region>/<service>/aws4_request`, the signed headers and a signature;
- `host` is among the signed headers (`'Host' or ':authority' must be a 'SignedHeader'`);
- `X-Amz-Date` is present, well formed, on the scope's date, and within 15 minutes of the
  server's clock in either direction (the error AWS names `RequestTimeTooSkewed`; JSON
  services answer `InvalidSignatureException: Signature expired: ...`).

The signature is then compared by the caller (moto's `IAMRequest` for issued keys,
`admin_signature_matches` for the fixed admin keys).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = [
    "MAX_SKEW",
    "SignatureProblem",
    "SignedRequest",
    "admin_signature_matches",
    "check_signed_request",
    "header",
]

MAX_SKEW = timedelta(minutes=15)
_ALGORITHM = "AWS4-HMAC-SHA256"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SignatureProblem(Exception):
    """A signed request AWS refuses before looking at its signature. `kind`: missing,
    incomplete or skew; `message`: AWS's wording."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def error_type(self, json_protocol: bool) -> str:
        if self.kind == "missing":
            return (
                "MissingAuthenticationTokenException"
                if json_protocol
                else "MissingAuthenticationToken"
            )
        if self.kind == "incomplete":
            return "IncompleteSignatureException" if json_protocol else "IncompleteSignature"
        return "InvalidSignatureException" if json_protocol else "SignatureDoesNotMatch"


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: datetime


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _stamp(moment: datetime) -> str:
    return moment.strftime(_AMZ_DATE)


def check_signed_request(headers: Mapping[str, str], now: datetime | None = None) -> SignedRequest:
    """The request's signing parameters; SignatureProblem when AWS would refuse them."""
    authorization = header(headers, "Authorization") or ""
    credential = _CREDENTIAL.search(authorization)
    if not authorization.startswith(_ALGORITHM + " ") or credential is None:
        raise SignatureProblem("missing", "Missing Authentication Token")
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization.removeprefix(_ALGORITHM + " ").split(",")
        if "=" in part
    )
    signed = tuple(
        h.strip().lower() for h in fields.get("SignedHeaders", "").split(";") if h.strip()
    )
    if "host" not in signed and ":authority" not in signed:
        raise SignatureProblem(
            "incomplete",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    raw_date = header(headers, "X-Amz-Date")
    if raw_date is None:
        raise SignatureProblem("missing", "Missing Authentication Token")
    try:
        amz_date = datetime.strptime(raw_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureProblem(
            "incomplete", f"Date must be in ISO-8601 'basic format'. Got '{raw_date}'."
        ) from None
    access_key_id, scope_date, region, service = credential.groups()
    if scope_date != raw_date[:8]:
        raise SignatureProblem(
            "skew",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{raw_date[:8]}', from '{raw_date}'.",
        )
    clock = now or datetime.now(UTC)
    if amz_date < clock - MAX_SKEW:
        raise SignatureProblem(
            "skew",
            f"Signature expired: {raw_date} is now earlier than {_stamp(clock - MAX_SKEW)} "
            f"({_stamp(clock)} - 15 min.)",
        )
    if amz_date > clock + MAX_SKEW:
        raise SignatureProblem(
            "skew",
            f"Signature not yet current: {raw_date} is still later than "
            f"{_stamp(clock + MAX_SKEW)} ({_stamp(clock)} + 15 min.)",
        )
    return SignedRequest(
        access_key_id, scope_date, region, service, signed, fields.get("Signature", ""), amz_date
    )


def admin_signature_matches(
    secret: str,
    signed: SignedRequest,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bool:
    """Whether `signed.signature` is the SigV4 signature of the request with `secret`."""
    request = AWSRequest(
        method=method,
        url=target,
        data=body,
        headers={k: v for k, v in headers.items() if k.lower() in signed.signed_headers},
    )
    request.context["timestamp"] = header(headers, "X-Amz-Date") or ""
    auth = SigV4Auth(Credentials(signed.access_key_id, secret), signed.service, signed.region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return bool(expected) and expected == signed.signature
