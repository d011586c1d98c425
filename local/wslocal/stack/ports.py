"""TCP ports on 127.0.0.1: probes that agree with how the local services bind, and the
choice of a port for each service."""

from __future__ import annotations

import socket
from collections.abc import Mapping

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
