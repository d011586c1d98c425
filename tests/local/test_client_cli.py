"""The client's command line (``python -m wslocal.client``) against a tiny local websockets
server: what it sends and prints, its exit codes, and how it says why."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import pytest
from local_support import WsBehaviour, WsServer
from moto import mock_aws

from wslocal.client import cli as client
from wslocal.devtoken import TokenCheck, mint_token
from wslocal.stack import free_port

StartServer = Callable[[WsBehaviour], WsServer]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_connect_sends_and_prints_replies(
    ws_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ws_server(WsBehaviour())
    code = client.main(
        ["connect", server.url, "--token", "tok", "--send", '{"type":"ping"}', "--send", "raw"]
    )
    assert code == client.EXIT_OK
    out = capsys.readouterr()
    assert out.out.splitlines() == ['{"type": "pong"}', '{"type": "echo", "text": "raw"}']
    assert "[client] connected" in out.err
    assert "tok" not in out.err


def test_cli_connect_reads_stdin_and_mints_a_token(
    ws_server: StartServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ws_server(WsBehaviour())
    monkeypatch.setattr("sys.stdin", io.StringIO('{"type":"ping"}\n\nsecond\n'))
    secret = "a-development-secret-of-at-least-32-bytes"
    code = client.main(
        [
            *("connect", server.url, "--secret", secret),
            *("--sub", "alice", "--session", "lab-1", "--auth", "header"),
        ]
    )
    assert code == client.EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        '{"type": "pong"}',
        '{"type": "echo", "text": "second"}',
    ]
    header = server.behaviour.authorization[0]
    assert header is not None
    claims = TokenCheck.with_secret(secret).identify(header.removeprefix("Bearer ")).claims
    assert (claims["sub"], claims["sessionId"]) == ("alice", "lab-1")


def test_cli_connect_exit_codes(ws_server: StartServer) -> None:
    rejected = ws_server(WsBehaviour(reject_status=403))
    assert client.main(["connect", rejected.url, "--token", "t"]) == client.EXIT_REJECTED
    assert rejected.behaviour.handshakes == 1
    failing = ws_server(WsBehaviour(reject_status=502))
    arguments = ["--max-attempts", "1", "--backoff-base", "0.01", "--backoff-max", "0.01"]
    assert client.main(["connect", failing.url, "--token", "t", *arguments]) == client.EXIT_GAVE_UP
    assert failing.behaviour.handshakes == 2
    closing = ws_server(WsBehaviour(close_code=1008))
    assert (
        client.main(["connect", closing.url, "--token", "t", "--send", "x"]) == client.EXIT_CLOSED
    )


def test_cli_connect_without_sub_is_a_usage_error(ws_server: StartServer) -> None:
    server = ws_server(WsBehaviour())
    assert client.main(["connect", server.url, "--secret", "s" * 32]) == client.EXIT_USAGE
    assert server.behaviour.handshakes == 0


def test_cli_connect_to_a_bad_url_does_not_print_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = ["connect", "http://127.0.0.1:1/local", "--token", "secret.token.value"]
    assert client.main([*arguments, "--send", "x"]) == client.EXIT_USAGE
    captured = capsys.readouterr()
    assert "secret.token.value" not in captured.out + captured.err
    assert "not a ws:// or wss:// URL" in captured.err


# -- saying why ---------------------------------------------------------------------------------

SECRET = "a-development-secret-of-at-least-32-bytes"


def test_the_cli_reports_an_expired_token_as_expired(
    ws_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ws_server(WsBehaviour(reject_status=401))
    expired = mint_token(SECRET, sub="alice", now=int(time.time()) - 7200)
    assert client.main(["connect", server.url, "--token", expired]) == client.EXIT_REJECTED
    err = capsys.readouterr().err
    assert "warning: the token expired at " in err
    assert re.search(r"rejected: HTTP 401: the token expired at .* UTC \(\d+ s ago\)", err), err
    assert expired not in err


def test_a_port_that_refuses_is_given_up_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    code = client.main(["connect", f"ws://127.0.0.1:{port}/local", "--token", "t"])
    assert code == client.EXIT_GAVE_UP
    assert time.monotonic() - started < 3  # the default backoff would take 15 s and more
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"[client] nothing listens at 127.0.0.1:{port} (")
    assert err[-1].endswith("); not retrying")
    assert not any("retry" in line and "not retrying" not in line for line in err)


@pytest.mark.parametrize(
    ("max_attempts", "expected"),
    [
        (
            "1",
            [
                "[client] connect failed: handshake rejected: HTTP 502; retry 1 of 1 in 0.01 s",
                "[client] connect failed: handshake rejected: HTTP 502; giving up after 1 retry",
            ],
        ),
        ("0", ["[client] connect failed: handshake rejected: HTTP 502; giving up after 0 retries"]),
    ],
)
def test_retries_are_counted_as_they_happen(
    ws_server: StartServer,
    capsys: pytest.CaptureFixture[str],
    max_attempts: str,
    expected: list[str],
) -> None:
    server = ws_server(WsBehaviour(reject_status=502))
    arguments = ["--max-attempts", max_attempts, "--backoff-base", "0.01", "--backoff-max", "0.01"]
    command = ["connect", server.url, "--token", "t", "--send", "x", *arguments]
    assert client.main(command) == client.EXIT_GAVE_UP
    assert capsys.readouterr().err.splitlines() == expected
    assert server.behaviour.handshakes == int(max_attempts) + 1


def test_connecting_without_a_token_is_a_usage_error_not_a_refusal(
    ws_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ws_server(WsBehaviour(reject_status=401))
    assert client.main(["connect", server.url]) == client.EXIT_USAGE
    assert "error: no token: give --token" in capsys.readouterr().err
    assert server.behaviour.handshakes == 0
    # Deliberately without one: sent, and the refusal says so.
    assert client.main(["connect", server.url, "--auth", "none"]) == client.EXIT_REJECTED
    assert "rejected: HTTP 401: no token was sent; not retrying" in capsys.readouterr().err


def test_an_aws_error_is_one_line_without_a_traceback(
    aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with mock_aws():
        code = client.main(["mint", "--secret-arn", arn, "--sub", "alice"])
    assert code == client.EXIT_AWS_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: AWS GetSecretValue failed: ResourceNotFoundException")
    assert "Traceback" not in err
