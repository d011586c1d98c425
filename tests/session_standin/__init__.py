"""Test support shared by the clients' tests (tests/clients, tests/browser): a stand-in for
the stack that speaks the session protocol's backend side, and the drop loop that runs
against any stack's URLs."""

from session_standin.server import Faults, Handshake, StandInServer
from session_standin.stream import StandInBackend, echo_app

__all__ = ["Faults", "Handshake", "StandInBackend", "StandInServer", "echo_app"]
