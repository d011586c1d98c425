"""What AWS checks of a SigV4 request before its signature: host signed, the 15-minute clock
skew, the credential scope's date (reference_sigv-create-signed-request.html,
reference_sigv-troubleshooting.html)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wslocal.emulator.iam.sigv4 import (
    SignatureProblem,
    admin_signature_matches,
    check_signed_request,
)

SIGV4 = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html"
TROUBLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def signed_headers(at: datetime, *, sign_host: bool = True) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url="https://example.test/local/@connections/abc", data=b"hi"
    )
    request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    auth = SigV4Auth(Credentials("test", "test"), "execute-api", "us-east-1")
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    scope = f"test/{at:%Y%m%d}/us-east-1/execute-api/aws4_request"
    # Without host the signature does not matter: the request is refused before it is read.
    names = "host;x-amz-date" if sign_host else "x-amz-date"
    authorization = f"Credential={scope}, SignedHeaders={names}, Signature={signature}"
    return {
        "Host": "example.test",
        "X-Amz-Date": request.context["timestamp"],
        "Authorization": f"AWS4-HMAC-SHA256 {authorization}",
    }


ROWS = [
    ("signed now", NOW, True, None, SIGV4),
    ("14 minutes old", NOW - timedelta(minutes=14), True, None, TROUBLE),
    ("16 minutes old: expired", NOW - timedelta(minutes=16), True, "skew", TROUBLE),
    ("16 minutes ahead: not yet current", NOW + timedelta(minutes=16), True, "skew", TROUBLE),
    ("host not among the signed headers", NOW, False, "incomplete", SIGV4),
]


@pytest.mark.parametrize(
    ("name", "at", "sign_host", "problem", "page"), ROWS, ids=[r[0] for r in ROWS]
)
def test_signed_requests_are_checked_as_aws_checks_them(
    name: str, at: datetime, sign_host: bool, problem: str | None, page: str
) -> None:
    headers = signed_headers(at, sign_host=sign_host)
    if problem is None:
        signed = check_signed_request(headers, NOW)
        assert (signed.access_key_id, signed.service, signed.region) == (
            "test",
            "execute-api",
            "us-east-1",
        )
        return
    with pytest.raises(SignatureProblem) as refused:
        check_signed_request(headers, NOW)
    assert refused.value.kind == problem, page


def test_the_skew_message_is_aws_own() -> None:
    with pytest.raises(SignatureProblem) as refused:
        check_signed_request(signed_headers(NOW - timedelta(minutes=20)), NOW)
    assert refused.value.message == (
        "Signature expired: 20250601T114000Z is now earlier than 20250601T114500Z "
        "(20250601T120000Z - 15 min.)"
    )
    assert refused.value.error_type(json_protocol=True) == "InvalidSignatureException"


def test_a_scope_date_other_than_the_request_date_is_refused() -> None:
    headers = signed_headers(NOW)
    headers["Authorization"] = headers["Authorization"].replace("20250601", "20250531")
    with pytest.raises(SignatureProblem, match="Credential scope"):
        check_signed_request(headers, NOW)


def test_no_authorization_is_a_missing_token() -> None:
    with pytest.raises(SignatureProblem) as refused:
        check_signed_request({"Host": "example.test"}, NOW)
    assert refused.value.kind == "missing"


def test_the_admin_signature_is_recomputed() -> None:
    headers = signed_headers(NOW)
    signed = check_signed_request(headers, NOW)
    target = "/local/@connections/abc"
    assert admin_signature_matches("test", signed, "POST", target, headers, b"hi")
    assert not admin_signature_matches("wrong", signed, "POST", target, headers, b"hi")
    assert not admin_signature_matches("test", signed, "POST", target, headers, b"tampered")
