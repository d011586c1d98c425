"""A backend that answers a few bytes at a time: each byte arrives well within any socket
timeout, but the whole answer takes far longer than the call's deadline. Plain HTTP, or
HTTPS with a self-signed certificate for 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

type Phase = Literal["headers", "body"]

BODY = b'{"type":"ok","pad":"' + b"x" * 40 + b'"}'


def _answer(body: bytes) -> tuple[bytes, bytes]:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"X-Pad: " + b"p" * 40 + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head, body


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for IP 127.0.0.1, written as PEM files (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TrickleServer:
    """Answers every request with 200 and a JSON body; the slow part (``phase``) is sent one
    byte every ``interval`` seconds, the rest at once."""

    def __init__(
        self,
        phase: Phase,
        *,
        interval: float = 0.1,
        body: bytes = BODY,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.phase = phase
        self.interval = interval
        self.body = body
        self.requests = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(*tls)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        return f"{'https' if self._context else 'http'}://127.0.0.1:{port}"

    def start(self) -> TrickleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            if self._context is not None:
                connection = self._context.wrap_socket(connection, server_side=True)
            with connection:
                while self._read_request(connection):
                    with self._lock:
                        self.requests += 1
                    head, body = _answer(self.body)
                    slow, fast = (head, body) if self.phase == "headers" else (body, head)
                    if self.phase == "body":
                        connection.sendall(fast)
                    for index in range(len(slow)):
                        if self._stopping.wait(self.interval):
                            return
                        connection.sendall(slow[index : index + 1])
                    if self.phase == "headers":
                        connection.sendall(fast)
        except OSError:  # the client gave up, as it should
            return

    @staticmethod
    def _read_request(connection: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = connection.recv(4096)
            if not chunk:
                return False
            rest += chunk
        return True
