"""The browser client's demo page, served next to the local stack (LOCAL ONLY).

``python -m wslocal.browser_demo`` (``make demo-browser``) applies examples/local with
``identity_sources = []`` (so a browser may offer its token as the ``bearer`` subprotocol),
starts the reference backend, the gateway and this page's server, prints the page's URL and
holds everything up until Ctrl-C.

``python -m wslocal.browser_demo serve --port P --ws-url ... --backend-url ...
--callback-url ... --jwt-secret-arn ...`` is the page's server alone (the stack starts it as
a service). It binds 127.0.0.1, refuses a ``Host`` other than its own address (421: a page
on another name that resolves to 127.0.0.1 cannot drive it), and answers:

- ``GET /``: the demo page; ``GET /demo/<file>``: its script and style;
  ``GET /client/<file>``: the browser client (``clients/browser/*.js``, ``*.d.ts``)
- ``GET /api/config``: ``{"wsUrl", "sessions"}``, where the page connects
- ``POST /api/token`` ``{"sub", "session", "ttlSeconds"}``: ``{"token"}``, a development
  token signed with the stack's secret (``wslocal.devtoken``): anyone who can reach this
  endpoint gets a valid token, which is why it exists only here
- ``POST /api/push`` ``{"session", "message"}``: the backend's push to a session
  (``POST <backend>/api/push/session/{id}``)
- ``POST /api/drop`` ``{"session"}``: the session's connections cut as a network drop does,
  through the gateway's fault endpoint (``POST /_wslocal/faults/drop`` on its
  ``@connections`` port): the client reconnects and resumes

One module per job: ``app`` (the endpoints, served by ``wslocal.http_server``), ``service``
(the stack service), ``cli``.
"""

from wslocal.browser_demo.app import DemoApp, DemoError, DemoSettings, serve
from wslocal.browser_demo.service import DEFAULT_SESSIONS, demo_service

__all__ = ["DEFAULT_SESSIONS", "DemoApp", "DemoError", "DemoSettings", "demo_service", "serve"]
