"""A test double of a team's backend, for the local stack and its tests only: nothing deploys it.

It answers the backend contract (docs/design.md, "Backend contract") the way tests need to
arrange and observe it, built on the backend SDK (``ws_bridge_backend``: the handler's
signature verified with the secret's current and previous keys, push through
``@connections``). A real backend starts from ``examples/app-runner/app`` instead.

One module per job:

- ``contract``  the three contract endpoints and push (``Backend.handle``)
- ``faults``    injected faults of the contract endpoints (slow, 5xx, invalid JSON, down)
- ``admin``     admin and debug routes: sessions, faults, what was received (no
                authentication: local only, behind the HTTP server's Host guard)
- ``http``      the WSGI application on ``wslocal.http_server.LocalServer``
- ``aws``       the SDK's verifier and push, the backend role's credentials
- ``cli``       ``python -m wslocal.reference_backend``

Contract endpoints:

``POST /api/labs/session/{sessionId}/validate``
    The identity is the handler's signed body (the authorizer verified the token): 404
    unknown session, 403 the user is not a member, 200 ``{"valid": true, ...}``.
``POST /api/ws/message``
    ``ping`` → ``pong``; ``command`` → ``command_result``; ``resize`` → ``resize_ack``; any
    other type → 400 ``unknown_type``. The ids the handler set are echoed in every reply.
    THE ``command`` MESSAGE EXECUTES NOTHING: the reply's ``output`` is the command text,
    ``exitCode`` 0 and ``executed`` false.
``POST /api/ws/disconnect``
    Recorded in memory (``GET /api/admin/disconnects``).
``POST /api/push/session/{sessionId}``
    The JSON body to every connection of the session (``ws_bridge_backend.push``):
    ``{"sent", "gone", "failed"}`` (and ``"expired"`` when connections whose token had
    expired were closed instead); 404 unknown session; 413 over 128 KB.

Sessions come from ``--session ID:USER`` (repeatable) and ``PUT /api/admin/sessions/{id}``.
With ``--signing-secret-arn`` every contract call must carry the handler's signature (401
``bad_request_signature`` otherwise). Logs are JSON lines on stderr: route, status, duration
and ids; never a token, a header value or a body.
"""

from wslocal.reference_backend.contract import (
    COLS_RANGE,
    ROWS_RANGE,
    Backend,
    Pusher,
    PushOutcome,
    parse_session_flag,
)
from wslocal.reference_backend.faults import FAULT_MODES, Fault, parse_fault
from wslocal.reference_backend.http import backend_server, wsgi_app
from wslocal.reference_backend.replies import Reply, RequestError

__all__ = [
    "COLS_RANGE",
    "FAULT_MODES",
    "ROWS_RANGE",
    "Backend",
    "Fault",
    "PushOutcome",
    "Pusher",
    "Reply",
    "RequestError",
    "backend_server",
    "parse_fault",
    "parse_session_flag",
    "wsgi_app",
]
