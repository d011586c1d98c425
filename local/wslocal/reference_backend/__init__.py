"""A test double of a team's backend, for the local stack and its tests only: nothing deploys it.

It answers the backend contract (docs/design.md, "Backend contract") the way tests need to
arrange and observe it, built on the backend SDK (``ws_bridge_backend``: the handler's
signature verified with the secret's current and previous keys, push through
``@connections``). A real backend starts from ``examples/app-runner/app`` instead.

One module per job:

- ``contract``  the three contract endpoints and push (``Backend.handle``), messages and
                pushes through the SDK's session layer (numbered, run once per request id)
- ``faults``    injected faults of the contract endpoints (slow, 5xx, invalid JSON, down)
- ``admin``     admin and debug routes: sessions, faults, what was received (no
                authentication: local only, behind the HTTP server's Host guard)
- ``sessions``  admin routes of the session protocol: numbered output streamed at a rate,
                the runs of each request id, kicks and rotations
- ``topics``    subscribe/unsubscribe through the SDK's ``Topics.handle``, and the admin
                broadcast through its ``Broadcaster`` (with ``--subscriptions-table``)
- ``http``      the WSGI application on ``wslocal.http_server.LocalServer``
- ``aws``       the SDK's verifier and push, the backend role's credentials
- ``cli``       ``python -m wslocal.reference_backend``

Contract endpoints:

``POST /api/labs/session/{sessionId}/validate``
    The identity is the handler's signed body (the authorizer verified the token): 404
    unknown session, 403 the user is not a member, 200 ``{"valid": true, ...}``.
``POST /api/ws/message``
    Through the SDK's session layer (``resume`` answered from the session's stream, each
    request id run once, every reply numbered and shared with the session's connections):
    ``ping`` → ``pong``; ``command`` → ``command_result`` (after ``delay`` seconds, at most
    20, when given); ``resize`` → ``resize_ack``; ``stream`` → ``stream_started``, then
    ``lines`` numbered ``output`` pushes one every ``interval`` s; ``cat`` → ``cat_result``
    with ``bytes`` characters of text (over 128 KB: chunks); ``subscribe``/``unsubscribe``
    → ``subscribed``/``unsubscribed`` (``topics``); any other type → the error reply
    ``unknown_type``. The ids the handler set are echoed in every reply.
    THE ``command`` MESSAGE EXECUTES NOTHING: the reply's ``output`` is the command text,
    ``exitCode`` 0 and ``executed`` false.
``POST /api/ws/disconnect``
    Recorded in memory (``GET /api/admin/disconnects``).
``POST /api/push/session/{sessionId}``
    The JSON object, numbered, to every connection of the session (the session layer over
    ``ws_bridge_backend.push``): ``{"sent", "gone", "failed", "seq"}`` (and ``"expired"``
    when connections whose token had expired were closed instead; counts per frame); 404
    unknown session; 413 over the layer's 1 MB (over 128 KB it goes as chunks).

Sessions come from ``--session ID:USER`` (repeatable) and ``PUT /api/admin/sessions/{id}``.
With ``--signing-secret-arn`` every contract call must carry the handler's signature (401
``bad_request_signature`` otherwise). Logs are JSON lines on stderr: route, status, duration
and ids; never a token, a header value or a body.
"""

from wslocal.reference_backend.contract import (
    COLS_RANGE,
    ROWS_RANGE,
    Backend,
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
    "Reply",
    "RequestError",
    "backend_server",
    "parse_fault",
    "parse_session_flag",
    "wsgi_app",
]
