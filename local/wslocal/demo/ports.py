"""The demo's ports: the documented defaults, a free one instead of a taken default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from wslocal.demo.context import DemoFailed
from wslocal.stack import PortTaken
from wslocal.stack import choose_ports as stack_choose_ports

__all__ = ["DEFAULT_PORTS", "choose_ports"]

DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "emulator": 4566,
    "gateway": 8080,
    "backend": 8081,
    "connections": 8082,
}


def choose_ports(requested: Mapping[str, int | None]) -> tuple[dict[str, int], list[str]]:
    """The port of each service and notes about the ones that differ from the defaults
    (``wslocal.stack.choose_ports`` over ``DEFAULT_PORTS``; ``DemoFailed`` for a taken
    explicit port)."""
    try:
        return stack_choose_ports(requested, DEFAULT_PORTS)
    except PortTaken as err:
        raise DemoFailed(str(err)) from None
