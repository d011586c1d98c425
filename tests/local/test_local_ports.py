"""Port probes agree with how the local services bind (SO_REUSEADDR), and `wslocal` imports
from the development virtualenv without PYTHONPATH."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wslocal.stack.ports import (
    LOWEST_PORT,
    _ephemeral_low,
    distinct_free_ports,
    free_port,
    port_is_free,
    port_slice,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _port_in_time_wait() -> int:
    """A port whose only socket is in TIME_WAIT: the server side closed first."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the active close: this side goes to TIME_WAIT
        client.recv(1)  # sees the FIN
        client.close()
    return port


def test_a_port_left_in_time_wait_is_free_for_a_server_that_reuses_addresses() -> None:
    port = _port_in_time_wait()
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))  # the probe's old way: "taken" for a minute
    assert port_is_free(port)
    with socket.socket() as server:  # and a service really can bind it
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))


def test_a_listening_port_is_taken() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_is_free(int(listener.getsockname()[1]))


def test_the_virtualenv_finds_wslocal_and_ws_bridge_without_pythonpath(tmp_path: Path) -> None:
    """`make venv` writes a .pth file for lambda/ and local/ (tests run in that venv)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", "import ws_bridge.jwt_verifier, wslocal.stack; print('ok')"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_distinct_free_ports_are_different_and_bindable() -> None:
    ports = distinct_free_ports(6)
    assert len(set(ports)) == 6
    assert all(port_is_free(port) for port in ports)


def test_a_port_in_use_as_the_local_end_of_a_connection_cannot_be_bound() -> None:
    """Why free ports come from below the ephemeral range: an outgoing connection's local
    port (drawn from that range) keeps a server from binding it, so a port handed out by
    bind(0) and bound a minute later may be lost to any connection made meanwhile."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        try:
            local_port = client.getsockname()[1]
            assert local_port >= _ephemeral_low()
            assert not port_is_free(local_port)
        finally:
            client.close()


def test_free_ports_lie_below_the_ephemeral_range_in_this_workers_slice() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST_PORT <= port < low for port in ports)
    assert len(ports) > 40  # drawn at random, not handed out in sequence
    slices = [port_slice(f"gw{n}") for n in range(4)]
    for first, second in itertools.pairwise(slices):
        assert first.stop <= second.start  # two workers never share a port
    assert port_slice("") == range(LOWEST_PORT, low)
