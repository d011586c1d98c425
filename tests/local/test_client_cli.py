"""The client's command line (``python -m wslocal.client``) against the stand-in stack
(tests/session_standin): what it sends and prints, its exit codes, and how it says why."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from moto import mock_aws

from session_standin import StandInServer
from wslocal.client import cli as client
from wslocal.devtoken import TokenCheck, mint_token
from wslocal.stack import free_port

SECRET = "a-development-secret-of-at-least-32-bytes"
FAST = ["--backoff-base", "0.01", "--backoff-max", "0.01"]


def token(ttl: int = 600) -> str:
    return mint_token(SECRET, sub="alice", ttl_seconds=ttl)


def printed(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_cli_connect_sends_requests_and_prints_the_stream(
    standin: StandInServer, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.push("s", {"type": "output", "line": "before"})
    send = ["--send", '{"type":"ping"}', "--send", '{"type":"command","command":"ls"}']
    code = client.main(["connect", standin.url, "--token", token(), *send, "--send", "raw"])
    assert code == client.EXIT_OK
    out = capsys.readouterr()
    lines = printed(out.out)
    # The history first (resumed from 0), then the pong and the reply, each once.
    assert lines[0] == {"type": "output", "line": "before", "seq": 1}
    assert {"type": "pong"} in lines
    [reply] = [line for line in lines if line.get("type") == "command_result"]
    assert (reply["output"], reply["seq"]) == ("ls", 2)
    assert "[client] connected" in out.err
    assert "not sent: a line must be a JSON object ('raw')" in out.err
    assert token() not in out.err


def test_cli_connect_reads_stdin_and_mints_a_token(
    standin: StandInServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"type":"command","command":"a"}\n\n'))
    code = client.main(
        [
            *("connect", standin.url, "--secret", SECRET),
            *("--sub", "alice", "--session", "lab-1", "--auth", "header"),
        ]
    )
    assert code == client.EXIT_OK
    [reply] = printed(capsys.readouterr().out)
    assert reply["output"] == "a"
    assert standin.executed(str(reply["id"])) == 1
    sent = standin.handshakes[0].token
    assert sent is not None
    claims = TokenCheck.with_secret(SECRET).identify(sent).claims
    assert (claims["sub"], claims["sessionId"]) == ("alice", "lab-1")


def test_cli_connect_exit_codes(standin: StandInServer) -> None:
    standin.faults.reject_status = 403
    assert client.main(["connect", standin.url, "--token", token()]) == client.EXIT_REJECTED
    assert len(standin.handshakes) == 1
    standin.faults.reject_status = 502  # retried, then given up
    command = ["connect", standin.url, "--token", token(), "--max-attempts", "1", *FAST]
    assert client.main(command) == client.EXIT_GAVE_UP
    assert len(standin.handshakes) == 1 + 2
    standin.faults.reject_status = None
    expired = mint_token(SECRET, sub="alice", ttl_seconds=-5)  # within the leeway: connects
    command = ["connect", standin.url, "--token", expired, "--send", '{"type":"command"}']
    assert client.main(command) == client.EXIT_CLOSED  # token_expired, no way to renew


def test_cli_connect_without_sub_is_a_usage_error(standin: StandInServer) -> None:
    assert client.main(["connect", standin.url, "--secret", "s" * 32]) == client.EXIT_USAGE
    assert standin.handshakes == []


def test_cli_connect_to_a_bad_url_does_not_print_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = ["connect", "http://127.0.0.1:1/local", "--token", "secret.token.value"]
    assert client.main([*arguments, "--send", "{}"]) == client.EXIT_USAGE
    captured = capsys.readouterr()
    assert "secret.token.value" not in captured.out + captured.err
    assert "not a ws:// or wss:// URL" in captured.err


# -- saying why ---------------------------------------------------------------------------------


def test_the_cli_reports_an_expired_token_as_expired(
    standin: StandInServer, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = mint_token(SECRET, sub="alice", now=int(time.time()) - 7200)
    assert client.main(["connect", standin.url, "--token", expired]) == client.EXIT_REJECTED
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
    assert not any("reconnecting" in line for line in err)


@pytest.mark.parametrize("max_attempts", [0, 1, 2])
def test_retries_are_counted_as_they_happen(
    standin: StandInServer, capsys: pytest.CaptureFixture[str], max_attempts: int
) -> None:
    standin.faults.reject_status = 502
    arguments = ["--max-attempts", str(max_attempts), *FAST]
    command = ["connect", standin.url, "--token", token(), "--send", "{}", *arguments]
    assert client.main(command) == client.EXIT_GAVE_UP
    err = capsys.readouterr().err.splitlines()
    retries = [line for line in err if line.startswith("[client] reconnecting")]
    assert retries == [
        f"[client] reconnecting (connection_lost): attempt {n} in 0.01 s"
        for n in range(1, max_attempts + 1)
    ]
    assert err[-1].startswith(f"[client] gave_up: gave up after {max_attempts} attempts: ")
    assert len(standin.handshakes) == max_attempts + 1


def test_connecting_without_a_token_is_a_usage_error_not_a_refusal(
    standin: StandInServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.main(["connect", standin.url]) == client.EXIT_USAGE
    assert "error: no token: give --token" in capsys.readouterr().err
    assert standin.handshakes == []
    # Deliberately without one: sent, and the refusal says so.
    assert client.main(["connect", standin.url, "--auth", "none"]) == client.EXIT_REJECTED
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
