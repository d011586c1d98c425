"""The local stack's one small HTTP server: serves a WSGI app on 127.0.0.1, with
``browser_facing`` refuses a foreign ``Host`` (DNS rebinding) before the app sees it, and
with ``tls`` serves HTTPS, handshaking in each connection's own thread."""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from wslocal.http_server import LocalServer, local_hosts
from wslocal.local_ca import LocalCA, ensure_ca

seen: list[str] = []


def _app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    seen.append(environ["PATH_INFO"])
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [body]


def _get(port: int, host: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("GET", "/x", skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serves_the_app_on_loopback_and_stops() -> None:
    with LocalServer(_app, name="t") as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert _get(server.port) == (200, b"hello")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.stop()  # idempotent


def test_a_browser_facing_server_refuses_a_foreign_host_before_the_app() -> None:
    seen.clear()
    with LocalServer(_app, browser_facing=True) as server:
        status, body = _get(server.port, f"attacker.example:{server.port}")
        assert status == 421
        assert b"misdirected" in body
        assert seen == []
        for host in sorted(local_hosts(server.port)):
            assert _get(server.port, host)[0] == 200
        # Same name, another port: a page served elsewhere on this machine.
        assert _get(server.port, f"127.0.0.1:{server.port + 1}")[0] == 421
    assert seen == ["/x"] * 3


def _peer_ports(seen_ports: list[int]) -> Any:
    """An app that records each request's client port and ignores the request body."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen_ports.append(int(environ["REMOTE_PORT"]))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


def test_a_connection_is_kept_alive_even_when_the_app_leaves_the_body_unread() -> None:
    ports: list[int] = []
    with LocalServer(_peer_ports(ports)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            for body in (b"x" * 1000, b"", b"y" * 10):
                connection.request("POST", "/p", body=body)
                response = connection.getresponse()
                assert (response.status, response.read()) == (200, b"ok")
                assert response.getheader("Connection") is None
        finally:
            connection.close()
    assert len(ports) == 3
    assert len(set(ports)) == 1  # one TCP connection for the three requests


def test_a_chunked_body_is_streamed_and_its_connection_closed() -> None:
    bodies: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with LocalServer(app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            connection.request("POST", "/p", body=iter([b"ab", b"cd"]), encode_chunked=True)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"ok")
            assert response.getheader("Connection") == "close"
        finally:
            connection.close()
    assert bodies == [b"abcd"]


def test_a_server_not_facing_browsers_takes_any_host() -> None:
    with LocalServer(_app) as server:
        assert _get(server.port, "anything.example")[0] == 200


def test_a_taken_port_is_an_oserror_not_an_exit() -> None:
    with LocalServer(_app) as first, pytest.raises(OSError, match="cannot listen"):
        LocalServer(_app, port=first.port)


def test_stop_without_start_returns() -> None:
    LocalServer(_app).stop()


# -- HTTPS -------------------------------------------------------------------------------------


def _get_tls(server: LocalServer, ca: LocalCA) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(ca.ca_file))
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=5, context=context)
    try:
        connection.request("GET", "/x")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_tls_serves_https_trusted_through_the_local_ca(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path / "tls")
    with LocalServer(_app, name="t", tls=ca.server_context()) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        assert _get_tls(server, ca) == (200, b"hello")
        # Another CA's clients refuse the certificate.
        other = ensure_ca(tmp_path / "other")
        with pytest.raises(ssl.SSLCertVerificationError):
            _get_tls(server, other)


def test_a_silent_tls_client_holds_up_no_one_and_a_failed_handshake_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = ensure_ca(tmp_path / "tls")
    with LocalServer(_app, name="silent-test", tls=ca.server_context()) as server:
        # Connected, never says a word: the handshake waits in that connection's thread.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            assert _get_tls(server, ca) == (200, b"hello")
        with caplog.at_level(logging.WARNING, logger="wslocal.http_server"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
                plain.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")  # HTTP to an HTTPS port
                plain.settimeout(5)
                try:
                    answer = plain.recv(1024)
                except ConnectionResetError:
                    answer = b""
                assert not answer.startswith(b"HTTP/")  # closed without an answer
            deadline = time.monotonic() + 5
            while "handshake failed" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "silent-test: TLS handshake failed" in caplog.text
