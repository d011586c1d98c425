"""`make demo`: the module applied to a local AWS emulator and one scripted WebSocket session
held through exactly what Terraform deployed, then everything torn down.

Run it with::

    python -m wslocal.demo [--keep-running] [--session-store] [--no-topics]
                           [--emulator-port N] [--gateway-port N]
                           [--backend-port N] [--connections-port N]

Ports default to the documented ones (emulator 4566, gateway WebSocket 8080, backend 8081,
gateway ``@connections`` 8082); a default port that is taken is replaced by a free one, and
the transcript says so. ``0`` asks for a free port; an explicit port that is taken is an error.

The steps, each checked (the first failure prints why, tears down and exits 1):

1. start the emulator (moto's server with this project's extension);
2. ``terraform apply`` of examples/local (timed);
3. start the reference backend and the local gateway, check that they serve;
4. mint a development token (HS256, with the key read back from Secrets Manager);
5. connect with it: the connection record is stored, ``expiresAt`` two hours ahead;
6. ``ping`` → ``pong``, answered by the connection handler without a backend call;
7. ``command``: the echo-style result, with ``userId``/``sessionId`` from the token although
   the client sent forged ones (nothing runs on the host: the backend only echoes);
8. ``resize`` → ``resize_ack``;
9. a push from the backend (``POST /api/push/session/{id}``, through ``@connections``)
   arrives on the connection;
10. topics: two more connections subscribe to a topic, a third does not, and a broadcast
    through the fan-out queue (posted by the module's worker) reaches each subscriber once
    and the third not at all (``topic_step``; ``--no-topics`` applies examples/local
    without its fan-out part and skips it);
11. a forged token is refused at the handshake and nothing is stored;
12. closing the connection removes its record and the backend gets the disconnect notice;
13. ``terraform destroy`` and every process stopped.

``--keep-running`` leaves the stack up after step 12, prints the commands to explore it by
hand with ``python -m wslocal.client``, and tears down on Ctrl-C (or SIGTERM). No process
started here outlives the demo, Ctrl-C included.

Exit status: 0 every step passed (with ``--keep-running``: and Ctrl-C ended the hold);
1 a step failed; 130 interrupted before the end; 64 usage error.

One module per job: ``session_steps`` (steps 4-12, one function each: a new step is one
function and one line in ``SESSION_STEPS``), ``topic_step`` (step 10), ``stack_steps``
(steps 1-3 and the teardown), ``context`` (what the steps share), ``transcript``,
``ports``, ``runner`` (all steps in order), ``cli``.
"""

from wslocal.demo.context import Demo, DemoFailed
from wslocal.demo.ports import DEFAULT_PORTS, choose_ports
from wslocal.demo.runner import STEPS, run
from wslocal.demo.transcript import Transcript

__all__ = [
    "DEFAULT_PORTS",
    "STEPS",
    "Demo",
    "DemoFailed",
    "Transcript",
    "choose_ports",
    "main",
    "run",
]
