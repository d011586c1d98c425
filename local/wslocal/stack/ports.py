"""TCP ports on 127.0.0.1: probes that agree with how the local services bind, and the
choice of a port for each service.

A port handed out here is bound later, by another process, often after a ``terraform
apply`` of a minute: meanwhile it must not be taken. Ports the kernel hands out for
``bind(0)`` come from its ephemeral range, which every outgoing connection also draws from
(Terraform's, boto3's), so such a port can be someone's local end by the time the service
binds it. Free ports are therefore drawn at random below the ephemeral range, where no
outgoing connection lands, from a slice of their own for each pytest-xdist worker, so that
two workers never hand out the same port.
"""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Mapping
from pathlib import Path

from wslocal.stack.config import StackError

__all__ = [
    "PortTaken",
    "choose_ports",
    "distinct_free_ports",
    "free_port",
    "port_accepts",
    "port_is_free",
]


class PortTaken(StackError):
    """An explicitly requested port cannot be bound."""


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Below every common ephemeral range (Linux 32768-60999, BSD and Windows 49152-65535) and
# above the well-known and most registered service ports.
LOWEST_PORT = 20_000
DEFAULT_EPHEMERAL_LOW = 32_768
WORKER_SLICES = 8


def _ephemeral_low() -> int:
    try:
        low = int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW
    return low if low > LOWEST_PORT + 1000 else DEFAULT_EPHEMERAL_LOW


def port_slice(worker: str | None = None) -> range:
    """The ports this process draws from: below the ephemeral range, this pytest-xdist
    worker's own slice of them (``gw0``, ``gw1``...; all of them outside pytest-xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    low, high = LOWEST_PORT, _ephemeral_low()
    matched = re.fullmatch(r"gw(\d+)", worker)
    if matched is None:
        return range(low, high)
    size = (high - low) // WORKER_SLICES
    start = low + (int(matched.group(1)) % WORKER_SLICES) * size
    return range(start, start + size)


def free_port(attempts: int = 200) -> int:
    """A TCP port on 127.0.0.1 that is free now and lies outside the ephemeral range."""
    ports = port_slice()
    for _ in range(attempts):
        port = random.choice(ports)  # noqa: S311 - spreading, not secrecy
        if port_is_free(port):
            return port
    raise StackError(f"no free port in {ports.start}-{ports.stop - 1} after {attempts} tries")


def distinct_free_ports(count: int = 4, attempts: int = 50) -> list[int]:
    """`count` different free ports (free_port() may hand the same one out twice)."""
    for _ in range(attempts):
        ports = [free_port() for _ in range(count)]
        if len(set(ports)) == count:
            return ports
    raise RuntimeError(f"no {count} distinct free ports after {attempts} attempts")


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` right now, the way the services bind.

    The emulator, the backend and the gateway all set SO_REUSEADDR, so sockets of an earlier
    run left in TIME_WAIT do not keep them from binding; the probe sets it too, or it would
    call such a port taken for a minute after every run. A listener still refuses the bind.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not port_accepts(port)


def choose_ports(
    requested: Mapping[str, int | None], defaults: Mapping[str, int]
) -> tuple[dict[str, int], list[str]]:
    """The port of each service in `defaults` and notes about those that differ from it.

    None: the default, or a free port (noted) when it is taken; 0: a free port; any other
    number: that port, which must be free (``PortTaken`` otherwise).
    """
    chosen: dict[str, int] = {}
    notes: list[str] = []

    def fresh() -> int:
        while True:
            port = free_port()
            if port not in chosen.values() and port not in defaults.values():
                return port

    for name, default in defaults.items():
        asked = requested.get(name)
        if asked is None:
            if default in chosen.values() or not port_is_free(default):
                chosen[name] = fresh()
                notes.append(f"port {default} ({name}) is taken: using {chosen[name]} instead")
            else:
                chosen[name] = default
        elif asked == 0:
            chosen[name] = fresh()
        else:
            if asked in chosen.values() or not port_is_free(asked):
                raise PortTaken(f"port {asked} ({name}) is taken on 127.0.0.1")
            chosen[name] = asked
    return chosen, notes
