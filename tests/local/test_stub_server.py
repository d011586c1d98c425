"""The asyncio stub server (`wslocal.stub_server`) that stands in for `@connections` under
load: answers after its delay on a kept-alive connection, counts a post whose client gave
up, and refuses what it cannot read instead of leaving it hanging."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from wslocal.stub_server import StubServer


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes, float]] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.seen.append((method, path, body, time.monotonic()))
        if path == "/boom":
            raise RuntimeError("a stub's own bug")
        if path.endswith("/gone"):
            return 410, b'{"message":"Gone"}'
        return 200, b""


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[StubServer]:
    with StubServer(recorder, delay=0.05) as stub:
        yield stub


def test_answers_after_the_delay_in_order_on_one_connection(
    server: StubServer, recorder: Recorder
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    started = time.monotonic()
    answers = []
    for path in ("/prod/@connections/a", "/prod/@connections/gone", "/prod/@connections/b"):
        connection.request("POST", path, body=b'{"n":1}')
        response = connection.getresponse()
        answers.append((response.status, response.read()))
    connection.close()
    assert answers == [(200, b""), (410, b'{"message":"Gone"}'), (200, b"")]
    assert time.monotonic() - started >= 3 * 0.05  # each answer waited for its delay
    assert [(m, p, b) for m, p, b, _ in recorder.seen] == [
        ("POST", "/prod/@connections/a", b'{"n":1}'),
        ("POST", "/prod/@connections/gone", b'{"n":1}'),
        ("POST", "/prod/@connections/b", b'{"n":1}'),
    ]


def test_a_post_whose_client_gave_up_is_still_answered(
    server: StubServer, recorder: Recorder
) -> None:
    # API Gateway delivers a post whose caller timed out: a run must count it, so that a
    # post sent again shows as sent twice.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /prod/@connections/left HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    deadline = time.monotonic() + 5
    while not recorder.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [p for _, p, _, _ in recorder.seen] == ["/prod/@connections/left"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 501),
        (b"POST /x HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 501),
        (b"POST /boom HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 500),
    ],
    ids=["chunked", "bad-length", "respond-raises"],
)
def test_what_the_stub_cannot_serve_is_answered_not_left_hanging(
    server: StubServer, request_bytes: bytes, status: int
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request_bytes)
        received = sock.recv(4096)
    assert received.startswith(f"HTTP/1.1 {status} ".encode())


def test_stop_closes_the_port_and_is_idempotent(recorder: Recorder) -> None:
    stub = StubServer(recorder).start()
    port = stub.port
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # kept alive, not closed
    kept.request("POST", "/prod/@connections/a", body=b"x")
    assert kept.getresponse().read() == b""
    stopping = threading.Thread(target=stub.stop)
    stopping.start()
    stopping.join(timeout=5)
    assert not stopping.is_alive(), "stop() waited for a client that keeps its connection"
    stub.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
