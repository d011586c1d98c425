"""Hostile input over real WebSockets, through the module applied to the local emulator:
forged and malformed tokens, malformed messages, the source allow-list, and a whole session
whose every log line is searched for tokens, the secret and message bodies.

Each refused handshake is checked three ways: the HTTP status the client sees, the reason
the authorizer logged (so that a token is refused for the right reason, not by accident), and
the table (nothing stored). Each malformed message must get a clear error reply or the
documented close, leave the connection usable (``ping`` → ``pong``) and leave no unhandled
exception in the gateway's log, which holds what the functions print.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ws_bridge.jwt_verifier import MAX_TOKEN_BYTES
from ws_bridge.outcomes import ERRORS
from wslocal.gateway.settings import MAX_URL_CHARACTERS
from wslocal.stack import MAX_HTTP_LINE_BYTES

if TYPE_CHECKING:
    from stack_support import RestrictedStack, StackHandle, StackLogs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OPEN = 101
MAX_MESSAGE_BYTES = 128 * 1024
JWT_PATTERN = re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]{8,}")


# ---------------------------------------------------------------------------- helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_token(header: Mapping[str, Any], payload: Mapping[str, Any], key: bytes) -> str:
    """A token assembled by hand and HMAC-SHA256-signed with any bytes (PyJWT refuses PEM
    keys for HMAC, which is the point of the attack)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims(
    sub: str | None = "alice", session: str | None = "lab-1", **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "sessionId": session, "iat": now, "exp": now + 600}
    payload.update(extra)
    return {key: value for key, value in payload.items() if value is not None}


def open_ws(
    url: str, headers: Mapping[str, str] | None = None, sock: socket.socket | None = None
) -> ClientConnection:
    return connect(
        url,
        additional_headers=dict(headers or {}),
        open_timeout=25,
        close_timeout=5,
        max_size=2**21,
        proxy=None,
        sock=sock,
    )


def handshake(url: str, headers: Mapping[str, str] | None = None) -> int:
    """The HTTP status of the upgrade: 101 when the connection opened (then closed)."""
    try:
        with open_ws(url, headers):
            return OPEN
    except InvalidStatus as refused:
        return refused.response.status_code


def record_ids(stack: StackHandle) -> set[str]:
    return {item["connectionId"]["S"] for item in stack.records()}


def json_lines(text: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for line in text.split("\n"):
        if line.startswith("{"):
            value = json.loads(line)
            if isinstance(value, dict):
                lines.append(value)
    return lines


def authorizer_reasons(text: str) -> list[str]:
    """The decisions the authorizer logged: its reason for a 401 or a Deny."""
    return [
        str(line.get("reason"))
        for line in json_lines(text)
        if line.get("logger") == "ws_bridge.authorizer" and line.get("decision") in {"401", "deny"}
    ]


def validate_calls(text: str) -> int:
    return sum(
        1
        for line in json_lines(text)
        if line.get("route") == "/api/labs/session/{sessionId}/validate"
    )


def unhandled_failures(gateway_log: str) -> list[str]:
    """Lines of the gateway's log that show an exception nobody handled: a traceback, an
    asyncio task that died, a function that raised (other than the authorizer's documented
    ``Exception("Unauthorized")``), or the handlers' own safety nets."""
    failures = []
    for line in gateway_log.split("\n"):
        if not line.strip():
            continue
        if line.startswith("{"):
            record = json.loads(line)
            if "exception" in record or record.get("message") in {
                "handler failed",
                "authorizer failed",
            }:
                failures.append(line)
        elif line != "[ERROR] Exception: Unauthorized":
            failures.append(line)
    return failures


def ping(ws: ClientConnection) -> None:
    ws.send('{"type":"ping"}')
    reply = json.loads(ws.recv(timeout=15))
    assert reply["type"] == "pong", reply


def wait_for(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# ---------------------------------------------------------------------------- token attacks

type TokenFactory = Callable[[StackHandle, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey], str]


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _tampered(stack: StackHandle) -> str:
    header, _, signature = stack.token().split(".")
    return f"{header}.{b64url(json.dumps(claims(sub='bob')).encode())}.{signature}"


UNAUTHORIZED: dict[str, tuple[TokenFactory, str]] = {
    "alg-none": (
        lambda s, r, e: (
            f"{b64url(b'{"alg":"none","typ":"JWT"}')}.{b64url(json.dumps(claims()).encode())}."
        ),
        "algorithm_not_allowed",
    ),
    "rs256-signed": (
        lambda s, r, e: jwt.encode(claims(), r, algorithm="RS256", headers={"kid": "k1"}),
        "algorithm_not_allowed",
    ),
    "es256-signed": (
        lambda s, r, e: jwt.encode(claims(), e, algorithm="ES256", headers={"kid": "k1"}),
        "algorithm_not_allowed",
    ),
    "hs256-keyed-with-a-pem": (
        lambda s, r, e: hmac_token({"alg": "HS256", "typ": "JWT"}, claims(), _pem(r)),
        "bad_signature",
    ),
    "wrong-signature": (
        lambda s, r, e: jwt.encode(claims(), "another-secret-" + "x" * 32, algorithm="HS256"),
        "bad_signature",
    ),
    "tampered-payload": (lambda s, r, e: _tampered(s), "bad_signature"),
    "expired": (lambda s, r, e: s.token(exp=int(time.time()) - 600), "expired"),
    "not-yet-valid": (lambda s, r, e: s.token(nbf=int(time.time()) + 600), "not_yet_valid"),
    "no-sub": (
        lambda s, r, e: jwt.encode(claims(sub=None), s.local.jwt_secret, algorithm="HS256"),
        "missing_claim:sub",
    ),
    "no-exp": (
        lambda s, r, e: jwt.encode(claims(exp=None), s.local.jwt_secret, algorithm="HS256"),
        "missing_claim:exp",
    ),
    "garbage": (lambda s, r, e: "garbage", "malformed"),
    "three-dots": (lambda s, r, e: "a.b.c", "malformed"),
    "binary-junk": (lambda s, r, e: "\x00\x01\u202e\U0001f9ea", "malformed"),
    "header-only": (lambda s, r, e: s.token().split(".")[0] + "..", "bad_signature"),
}


@pytest.mark.parametrize("attack", list(UNAUTHORIZED))
def test_forged_or_invalid_tokens_are_401_and_store_nothing(
    healthy_backend: StackHandle,
    stack_logs: StackLogs,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    attack: str,
) -> None:
    stack = healthy_backend
    factory, reason = UNAUTHORIZED[attack]
    token = factory(stack, rsa_key, ec_key)
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(stack.url(token)) == 401
    logs = stack_logs.since(mark)
    assert authorizer_reasons(logs["gateway.log"]) == [reason]
    assert validate_calls(logs["backend.log"]) == 0
    assert record_ids(stack) <= before


def test_a_valid_token_opens_so_the_refusals_mean_something(stack: StackHandle) -> None:
    assert handshake(stack.url(stack.token())) == OPEN


def token_of_length(stack: StackHandle, length: int) -> str:
    """A valid token of at least `length` bytes (a padding claim makes it long)."""
    base = len(stack.token(padding=""))
    token = stack.token(padding="x" * max(0, (length - base) * 3 // 4 + 3))
    assert length <= len(token) < length + 8
    return token


def test_the_gateway_reads_lines_as_long_as_api_gateway_does(stack: StackHandle) -> None:
    gateway = stack.local.services["gateway"]
    environment = Path(f"/proc/{gateway.pid}/environ").read_bytes().split(b"\0")
    assert f"WEBSOCKETS_MAX_LINE_LENGTH={MAX_HTTP_LINE_BYTES}".encode() in environment


def test_a_url_over_4096_characters_is_414_before_any_function(
    stack: StackHandle, stack_logs: StackLogs
) -> None:
    # API Gateway's fixed quota: 4,096 characters of URL (the request target here).
    token = stack.token()

    def target_length(url: str) -> int:
        split = urllib.parse.urlsplit(url)
        return len(f"{split.path}?{split.query}")

    base = target_length(stack.url(token, pad=""))
    longest = stack.url(token, pad="x" * (MAX_URL_CHARACTERS - base))
    too_long = stack.url(token, pad="x" * (MAX_URL_CHARACTERS - base + 1))
    assert target_length(longest) == MAX_URL_CHARACTERS
    assert handshake(longest) == OPEN
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(too_long) == 414
    logs = stack_logs.since(mark)
    assert authorizer_reasons(logs["gateway.log"]) == []
    assert validate_calls(logs["backend.log"]) == 0
    assert record_ids(stack) <= before


def test_a_token_over_8_kb_in_the_query_string_is_414_before_any_function(
    stack: StackHandle, stack_logs: StackLogs
) -> None:
    token = token_of_length(stack, MAX_TOKEN_BYTES + 512)
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(stack.url(token)) == 414
    logs = stack_logs.since(mark)
    assert authorizer_reasons(logs["gateway.log"]) == []
    assert validate_calls(logs["backend.log"]) == 0
    assert record_ids(stack) <= before


def test_a_token_over_8_kb_in_a_header_reaches_the_authorizer_and_is_401(
    restricted_stack: RestrictedStack,
) -> None:
    # Headers may carry ~10 KB: a long token travels in the Authorization header or the
    # subprotocol (the browser setup, no identity source), and the authorizer refuses it.
    stack, logs = restricted_stack.handle, restricted_stack.logs
    token = token_of_length(stack, MAX_TOKEN_BYTES + 512)
    source = restricted_stack.allowed_source
    before, mark = record_ids(stack), logs.mark()
    for headers, subprotocols in (
        ({"Authorization": f"Bearer {token}"}, None),
        (None, ["bearer", token]),
    ):
        with (
            pytest.raises(InvalidStatus) as refused,
            open_from(stack, source, stack.ws_url, headers, subprotocols),
        ):
            pass
        assert refused.value.response.status_code == 401
    since = logs.since(mark)
    assert authorizer_reasons(since["gateway.log"]) == ["too_large", "too_large"]
    assert validate_calls(since["backend.log"]) == 0
    assert record_ids(stack) <= before


def test_a_token_over_10_kb_is_refused_before_any_function(
    stack: StackHandle, stack_logs: StackLogs
) -> None:
    token = token_of_length(stack, MAX_HTTP_LINE_BYTES + 256)
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(stack.url(token)) == 414  # the request line is too long
    header = {"Authorization": f"Bearer {token}"}
    assert handshake(stack.url(stack.token()), header) == 431  # a header line is too long
    logs = stack_logs.since(mark)
    assert authorizer_reasons(logs["gateway.log"]) == []
    assert validate_calls(logs["backend.log"]) == 0
    assert record_ids(stack) <= before


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        pytest.param(
            lambda s: (s.url(s.token()), {"Authorization": f"Bearer {s.token(sub='bob')}"}),
            "conflicting_tokens",
            id="query-and-header-disagree",
        ),
        pytest.param(
            lambda s: (s.url(s.token()), {"Authorization": "Bearer garbage"}),
            "conflicting_tokens",
            id="valid-query-garbage-header",
        ),
        pytest.param(
            lambda s: (s.url(s.token(session="lab-1"), sessionId="lab-2"), {}),
            "session_mismatch",
            id="query-names-another-session",
        ),
    ],
)
def test_contradicting_requests_are_403_and_store_nothing(
    healthy_backend: StackHandle,
    stack_logs: StackLogs,
    build: Callable[[StackHandle], tuple[str, dict[str, str]]],
    reason: str,
) -> None:
    stack = healthy_backend
    url, headers = build(stack)
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(url, headers) == 403
    logs = stack_logs.since(mark)
    assert authorizer_reasons(logs["gateway.log"]) == [reason]
    assert validate_calls(logs["backend.log"]) == 0
    assert record_ids(stack) <= before


def test_a_token_for_a_session_of_someone_else_is_403_and_stores_nothing(
    healthy_backend: StackHandle, stack_logs: StackLogs
) -> None:
    # Correctly signed, but lab-2 is carol's: the backend refuses, the handler stores nothing.
    stack = healthy_backend
    before, mark = record_ids(stack), stack_logs.mark()
    assert handshake(stack.url(stack.token(sub="alice", session="lab-2"))) == 403
    logs = stack_logs.since(mark)
    assert validate_calls(logs["backend.log"]) == 1
    assert record_ids(stack) <= before


# ---------------------------------------------------------------------------- messages


@contextmanager
def session(stack: StackHandle) -> Iterator[tuple[ClientConnection, str]]:
    """An open connection and its id (learnt from the backend's echo)."""
    with open_ws(stack.url(stack.token())) as ws:
        ws.send('{"type":"command","command":"whoami"}')
        reply = json.loads(ws.recv(timeout=15))
        yield ws, str(reply["connectionId"])


def frames_of(value: str | bytes | Callable[[], str | bytes]) -> str | bytes:
    return value() if callable(value) else value


MALFORMED: dict[str, tuple[str | bytes | Callable[[], str | bytes], str]] = {
    "not-json": ("not json", "invalid_json"),
    "empty": ("", "invalid_json"),
    "truncated": ('{"type":"command"', "invalid_json"),
    "nan": ('{"type":"command","n":NaN}', "invalid_json"),
    "array": ("[]", "not_an_object"),
    "array-of-ping": ('[{"type":"ping"}]', "not_an_object"),
    "number": ("42", "not_an_object"),
    "string": ('"ping"', "not_an_object"),
    "null": ("null", "not_an_object"),
    "true": ("true", "not_an_object"),
    # Refused by the backend: its own error reply, numbered in the session's stream.
    "missing-type": ("{}", "unknown_type"),
    "unknown-type": ('{"type":"teleport"}', "unknown_type"),
    "type-number": ('{"type":5}', "unknown_type"),
    "type-array": ('{"type":["ping"]}', "unknown_type"),
    "type-object": ('{"type":{"type":"ping"}}', "unknown_type"),
    "type-null": ('{"type":null}', "unknown_type"),
    "command-number": ('{"type":"command","command":123}', "invalid_command"),
    "resize-strings": ('{"type":"resize","cols":"x","rows":-1}', "invalid_resize"),
    "deep-objects": (lambda: '{"a":' * 100 + "1" + "}" * 100, "invalid_json"),
    "deep-arrays": (lambda: "[" * 5000 + "]" * 5000, "invalid_json"),
    "escaped-lone-surrogate": ('{"type":"command","command":"\\ud800"}', "invalid_json"),
    "raw-nul-in-string": ('{"type":"command","command":"a\x00b"}', "invalid_json"),
    "byte-order-mark": ('\ufeff{"type":"ping"}', "invalid_json"),
    "binary-invalid-utf8": (b"\xff\xfe\xfd", "invalid_json"),
    "binary-utf16-json": ('{"type":"command","command":"x"}'.encode("utf-16"), "invalid_json"),
    "binary-nul-bytes": (b"\x00\x01\x02", "invalid_json"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_messages_get_a_clear_error_and_the_connection_stays_usable(
    healthy_backend: StackHandle, stack_logs: StackLogs, case: str
) -> None:
    frame, code = MALFORMED[case]
    with session(healthy_backend) as (ws, _):
        mark = stack_logs.mark()
        ws.send(frames_of(frame))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error", reply
        assert reply["error"] == code
        assert isinstance(reply["message"], str)
        assert reply["message"]
        if code in ERRORS:  # the handler's refusal, never numbered
            assert isinstance(reply["requestId"], str)
            assert reply["requestId"]
            assert "seq" not in reply
        else:  # the backend's reply, numbered like every frame it sends to a session
            assert isinstance(reply["seq"], int)
        ping(ws)
        assert unhandled_failures(stack_logs.since(mark)["gateway.log"]) == []


@pytest.mark.parametrize(
    "text",
    [
        "🧪 astral \U0010fffd",
        "\u202eRTL override\u202c and \u200f marks",
        "e\u0301 combining, \ufeff inside, \u2028 separator",
        "escaped NUL \x00 and \x1f controls",
    ],
    ids=["astral", "rtl", "combining", "controls"],
)
def test_unusual_unicode_reaches_the_backend_and_back_intact(
    healthy_backend: StackHandle, stack_logs: StackLogs, text: str
) -> None:
    with session(healthy_backend) as (ws, _):
        mark = stack_logs.mark()
        ws.send(json.dumps({"type": "command", "command": text}, ensure_ascii=False))
        reply = json.loads(ws.recv(timeout=15))
        assert reply["type"] == "command_result"
        assert reply["command"] == text
        assert unhandled_failures(stack_logs.since(mark)["gateway.log"]) == []


def test_a_binary_frame_carrying_json_is_handled_like_text(healthy_backend: StackHandle) -> None:
    with session(healthy_backend) as (ws, _):
        ws.send(b'{"type":"command","command":"from a binary frame"}')
        reply = json.loads(ws.recv(timeout=15))
        assert reply["type"] == "command_result"
        assert reply["command"] == "from a binary frame"


def test_a_message_over_128_kb_closes_with_1009_and_removes_the_record(
    healthy_backend: StackHandle, stack_logs: StackLogs
) -> None:
    stack = healthy_backend
    with session(stack) as (ws, connection_id):
        mark = stack_logs.mark()
        assert connection_id in record_ids(stack)
        ws.send('{"type":"command","command":"' + "x" * MAX_MESSAGE_BYTES + '"}')
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=15)
        assert ws.protocol.close_code == 1009
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")
    assert unhandled_failures(stack_logs.since(mark)["gateway.log"]) == []
    with session(stack) as (ws, _):
        ping(ws)


def test_invalid_utf8_in_a_text_frame_closes_with_1007_and_removes_the_record(
    healthy_backend: StackHandle, stack_logs: StackLogs
) -> None:
    stack = healthy_backend
    with session(stack) as (ws, connection_id):
        mark = stack_logs.mark()
        ws.send(b"\xff\xfe not UTF-8", text=True)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=15)
        assert ws.protocol.close_code == 1007  # RFC 6455 section 8.1
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")
    assert unhandled_failures(stack_logs.since(mark)["gateway.log"]) == []


# ---------------------------------------------------------------------------- access control


def restricted_token(restricted: RestrictedStack, **overrides: Any) -> str:
    claims = {"iss": restricted.issuer, "aud": restricted.audience, **overrides}
    return restricted.handle.token(**{k: v for k, v in claims.items() if v is not None})


@contextmanager
def open_from(
    stack: StackHandle,
    source: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] | None = None,
) -> Iterator[ClientConnection]:
    """A connection whose TCP connection comes from `source`."""
    port = urllib.parse.urlsplit(stack.ws_url).port
    assert port is not None
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    try:
        with connect(
            url,
            additional_headers=dict(headers or {}),
            subprotocols=[Subprotocol(item) for item in subprotocols or ()] or None,
            open_timeout=25,
            close_timeout=5,
            proxy=None,
            sock=sock,
        ) as ws:
            yield ws
    finally:
        sock.close()


def handshake_from(stack: StackHandle, source: str, token: str) -> int:
    """The upgrade status for a client whose TCP connection comes from `source`."""
    try:
        with open_from(stack, source, stack.url(token)):
            return OPEN
    except InvalidStatus as refused:
        return refused.response.status_code


def test_the_allow_list_reaches_the_authorizer(restricted_stack: RestrictedStack) -> None:
    local = restricted_stack.handle.local
    configuration = local.client("lambda").get_function_configuration(
        FunctionName=local.outputs.authorizer_function_name
    )
    environment = configuration["Environment"]["Variables"]
    assert environment.get("ALLOWED_SOURCE_CIDRS") == f"{restricted_stack.allowed_source}/32", (
        "examples/local must pass its allowed_source_cidrs variable to the module"
    )


def test_a_valid_token_from_outside_the_allow_list_is_403_and_stores_nothing(
    restricted_stack: RestrictedStack,
) -> None:
    stack, logs = restricted_stack.handle, restricted_stack.logs
    token = restricted_token(restricted_stack)
    before, mark = record_ids(stack), logs.mark()
    assert handshake_from(stack, "127.0.0.1", token) == 403
    assert authorizer_reasons(logs.since(mark)["gateway.log"]) == ["source_ip_not_allowed"]
    assert record_ids(stack) <= before
    # the same token from the allowed address opens (and its record goes on $disconnect)
    assert handshake_from(stack, restricted_stack.allowed_source, token) == OPEN
    wait_for(lambda: record_ids(stack) == set(), "the record's deletion")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example.test/"}, "wrong_issuer"),
        ({"iss": "https://id.example.test"}, "wrong_issuer"),
        ({"aud": "ops"}, "wrong_audience"),
        ({"aud": ["ops", "dev"]}, "wrong_audience"),
        ({"iss": None}, "missing_claim:iss"),
        ({"aud": None}, "missing_claim:aud"),
    ],
    ids=["other-issuer", "issuer-without-slash", "other-audience", "audiences", "no-iss", "no-aud"],
)
def test_wrong_issuer_or_audience_is_401_when_configured(
    restricted_stack: RestrictedStack, overrides: dict[str, Any], reason: str
) -> None:
    stack, logs = restricted_stack.handle, restricted_stack.logs
    token = restricted_token(restricted_stack, **overrides)
    before, mark = record_ids(stack), logs.mark()
    assert handshake_from(stack, restricted_stack.allowed_source, token) == 401
    assert authorizer_reasons(logs.since(mark)["gateway.log"]) == [reason]
    assert record_ids(stack) <= before


# The browser setup (identity_sources = []): no token in the URL.


def assert_stored(stack: StackHandle, ws: ClientConnection) -> str:
    """The connection works and its record names the token's user and session."""
    ws.send(json.dumps({"type": "command", "command": "whoami"}))
    connection_id = str(json.loads(ws.recv(timeout=15))["connectionId"])
    records = {item["connectionId"]["S"]: item for item in stack.records()}
    assert connection_id in records
    record = records[connection_id]
    assert (record["userId"]["S"], record["sessionId"]["S"]) == ("alice", "lab-1")
    return connection_id


def test_a_token_offered_only_as_a_subprotocol_connects_and_bearer_is_echoed(
    restricted_stack: RestrictedStack,
) -> None:
    stack = restricted_stack.handle
    token = restricted_token(restricted_stack)
    source = restricted_stack.allowed_source
    with open_from(stack, source, stack.ws_url, subprotocols=["bearer", token]) as ws:
        assert ws.subprotocol == "bearer"
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "bearer"  # never the token
        connection_id = assert_stored(stack, ws)
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")


def test_a_token_only_in_the_authorization_header_connects(
    restricted_stack: RestrictedStack,
) -> None:
    stack = restricted_stack.handle
    header = {"Authorization": f"Bearer {restricted_token(restricted_stack)}"}
    with open_from(stack, restricted_stack.allowed_source, stack.ws_url, header) as ws:
        assert ws.subprotocol is None
        connection_id = assert_stored(stack, ws)
    wait_for(lambda: connection_id not in record_ids(stack), "the record's deletion")


def test_no_token_anywhere_is_401_from_the_authorizer(restricted_stack: RestrictedStack) -> None:
    stack, logs = restricted_stack.handle, restricted_stack.logs
    before, mark = record_ids(stack), logs.mark()
    with (
        pytest.raises(InvalidStatus) as refused,
        open_from(stack, restricted_stack.allowed_source, stack.ws_url, subprotocols=["chat"]),
    ):
        pass
    assert refused.value.response.status_code == 401
    # the authorizer ran (no identity source stopped the request first) and said why
    assert authorizer_reasons(logs.since(mark)["gateway.log"]) == ["missing"]
    assert record_ids(stack) <= before


def test_no_log_line_of_a_whole_session_holds_a_token_the_secret_or_a_body(
    healthy_backend: StackHandle, stack_logs: StackLogs
) -> None:
    stack = healthy_backend
    marker = f"BODY-{time.time_ns()}"
    mark = stack_logs.mark()
    token = stack.token(note=f"claim-{marker}")
    refused = [
        stack.token(exp=int(time.time()) - 600),
        jwt.encode(claims(), "another-secret-" + "x" * 32, algorithm="HS256"),
        f"not-a-token-{marker}",
    ]
    for bad in refused:
        assert handshake(stack.url(bad)) == 401
    assert handshake(stack.url(stack.token()), {"Authorization": f"Bearer {refused[1]}"}) == 403

    with open_ws(stack.url(token), {"Authorization": f"Bearer {token}"}) as ws:
        ws.send(json.dumps({"type": "command", "command": f"echo {marker}"}))
        connection_id = json.loads(ws.recv(timeout=15))["connectionId"]
        for frame in (
            json.dumps({"type": "ping", "note": marker}),
            f"not json {marker}",
            json.dumps([marker]),
            json.dumps({"type": f"unknown-{marker}"}),
            marker.encode() + b"\xff",
        ):
            ws.send(frame)
            ws.recv(timeout=15)
        stack.backend("POST", "/api/admin/faults", {"mode": "error_5xx", "endpoints": ["message"]})
        ws.send(json.dumps({"type": "command", "command": f"fails {marker}"}))
        assert json.loads(ws.recv(timeout=15))["error"] == "backend_error"
        stack.backend("POST", "/api/admin/faults", {"mode": "none"})
        pushed = stack.backend("POST", "/api/push/session/lab-1", {"type": "note", "n": marker})
        assert pushed["sent"] >= 1
        assert marker in str(ws.recv(timeout=15))
        ws.close(4000, f"bye {marker}")

    def disconnect_logged() -> bool:
        return any(
            line.get("message") == "disconnected" and line.get("connectionId") == connection_id
            for line in json_lines(stack_logs.since(mark)["gateway.log"])
        )

    wait_for(disconnect_logged, "the $disconnect log line")
    session_logs = stack_logs.since(mark)
    # The capture covers every process: the functions, the backend and the emulator wrote.
    gateway_messages = {
        line.get("message")
        for line in json_lines(session_logs["gateway.log"])
        if line.get("connectionId") == connection_id
    }
    assert {"connected", "message forwarded", "message refused", "disconnected"} <= gateway_messages
    assert "/api/push/session/{sessionId}" in session_logs["backend.log"]
    assert session_logs["emulator.log"]

    everything = "\n".join(stack_logs.whole().values())
    assert stack.local.jwt_secret not in everything
    assert JWT_PATTERN.findall(everything) == []
    for leaked in [token, *refused]:
        for part in leaked.split(".")[1:]:
            if len(part) >= 8:
                assert part not in everything
    assert marker not in everything
