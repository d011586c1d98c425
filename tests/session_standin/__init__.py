"""Test support shared by the clients' tests (tests/clients, tests/browser) and the stack's
(tests/integration): a stand-in for the stack that speaks the session protocol's backend
side, the drop loop that runs against any stack's URLs, and the Python client as its
driver (``python_driver``)."""

from session_standin.server import Faults, Handshake, StandInServer
from session_standin.stream import StandInBackend, echo_app

__all__ = ["Faults", "Handshake", "StandInBackend", "StandInServer", "echo_app"]
