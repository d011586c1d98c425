"""``SessionClient``: a session over the bridge that survives reconnects (docs/design.md,
"Session protocol"), as the browser client's ``ws-bridge.js`` does in a page.

::

    client = SessionClient(url, get_token=fetch_token, on_message=print_line)
    await client.connect()
    reply = await client.send({"type": "command", "command": "ls"})
    await client.close()

Every request gets an id; after every (re)connect the client resumes from the last seq it
delivered, so stream messages reach ``on_message(seq, message)`` in order, each once; requests
still without an answer are resent after the resume and run once; before API Gateway's
2-hour limit, or on ``rotate``, a second connection is made before the first is closed.
``session_core`` decides what each frame means and ``link`` runs one connection; this module
ties them to timers and tokens. Unlike a browser, it sees a refused handshake's status: a
4xx on the first connect is final, a 5xx is retried.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from websockets.exceptions import InvalidHandshake

from ws_bridge_client.connection import HandshakeRejected, WsClient
from ws_bridge_client.link import Ended, Link, handshake_error
from ws_bridge_client.protocol import is_later_token, new_client_id, traced
from ws_bridge_client.session_core import Action, ClientError, SessionCore
from ws_bridge_client.settings import Event, SentRequest, SessionSettings, TokenSource

__all__ = ["SessionClient"]


class SessionClient:
    """One client of a session. ``token`` is fixed, or ``get_token(reason)`` is asked before
    every handshake (reason ``connect``, ``reconnect``, ``token_expired`` or ``rollover``)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        get_token: TokenSource | None = None,
        settings: SessionSettings | None = None,
        on_message: Callable[[int, dict[str, Any]], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        client_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if token is None and get_token is None:
            raise ValueError("SessionClient needs token or get_token")
        if not url.startswith(("ws://", "wss://")):
            raise ValueError("not a ws:// or wss:// URL")
        self.url = url
        self.settings = settings or SessionSettings()
        self.client_id = client_id or new_client_id()
        self.state = "idle"
        self.resume_state = "none"
        self.close_reason: str | None = None  # why it closed: closed, gave_up, kicked...
        self.last_seq = 0
        self.head_seq = 0
        self.attempt = 0
        self._token, self._get_token = token, get_token
        self._on_message = on_message or (lambda _seq, _message: None)
        self._on_event = on_event or (lambda _event: None)
        self._rng = rng or random.Random()  # noqa: S311 - spreads retries, guards nothing
        self._core = SessionCore(self.client_id, max_queue=self.settings.max_queue)
        self._links: dict[str, Link] = {}
        self._names = 0
        self._requests: dict[str, tuple[asyncio.Future[dict[str, Any]], asyncio.TimerHandle]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ever_opened = False
        self._preparing = False
        self._refused_token: str | None = None
        self._rollover_attempt = 0

    # -- public API ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the session; returns once the first resume is answered. Raises
        ``ClientError`` (``refused``, ``connect_timeout``, ``gave_up``, ``closed``...)."""
        if self.state == "open" and self._core.ready:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self.state in {"idle", "closed"}:
            self._ever_opened = False
            self.close_reason = None
            self.attempt = 0
            self._set_state("connecting")
            self._open_connection("connect")
        await waiter

    async def send(self, message: Mapping[str, Any], *, timeout: float | None = None) -> Any:
        """Send a request and return its reply. Raises ``ClientError`` with the error
        reply's code, or ``message_too_large``/``queue_full`` at once (nothing sent),
        ``reply_timeout``, ``closed``, ``kicked``...; ``ValueError`` for a bad request."""
        return await self.request(message, timeout=timeout)

    def request(self, message: Mapping[str, Any], *, timeout: float | None = None) -> SentRequest:
        """:meth:`send` that tells the request's ``id`` and ``traceparent`` at once (await it
        for the reply). Each request carries a fresh W3C traceparent (docs/design.md,
        "Tracing") unless it has a valid one; resends keep it."""
        if self.state in {"idle", "closed"}:
            raise ClientError("closed", f"not connected ({self.state})")
        message, traceparent = traced(message)
        rid, actions = self._core.request(message)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        seconds = self.settings.reply_timeout if timeout is None else timeout
        timer = loop.call_later(seconds, self._reply_timeout, rid, seconds)
        self._requests[rid] = (future, timer)
        self._run(actions)
        return SentRequest(rid, traceparent, future)

    async def ping(self) -> None:
        """Ping on the primary connection; returns once the handler's pong came."""
        link = self._links.get(self._core.primary or "")
        if link is None or not link.opened:
            raise ClientError("closed", "no open connection")
        await link.ping()

    def rotate(self) -> None:
        """Make-before-break now: open a second connection, resume, then close the first."""
        primary = self._links.get(self._core.primary or "")
        if self.state != "open" or not self._core.ready or self._core.candidate or not primary:
            return
        if self._preparing or len(self._links) > 1:
            return
        self._emit("rollover", phase="start", source=primary.name)
        self._open_connection("rollover")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close for good; waiting requests fail with ``closed``."""
        links = list(self._links.values())
        self._stop("closed", code, reason)
        closing = [link.closing for link in links if link.closing is not None]
        if closing:
            await asyncio.wait(closing, timeout=2)  # the close frames out, a slow peer bounded

    @property
    def pending(self) -> tuple[int, int]:
        """Requests waiting: (queued, sent without an answer)."""
        queued = len(self._core.queued)
        return queued, len(self._core.waiting) - queued

    # -- connecting ------------------------------------------------------------------------

    def _open_connection(self, reason: str) -> None:
        self._names += 1
        name = f"c{self._names}"
        self._preparing = True
        asyncio.get_running_loop().create_task(self._connect_link(name, reason))

    async def _connect_link(self, name: str, reason: str) -> None:
        rollover = reason == "rollover"
        try:
            token = await self._fetch_token("token_expired" if self._refused_token else reason)
        except Exception as err:  # noqa: BLE001 - whatever get_token raised, it is no token
            self._preparing = False
            self._failed_before_open(rollover, ClientError("no_token", f"get_token failed: {err}"))
            return
        self._preparing = False
        if self.state in {"idle", "closed"}:
            return
        if self._refused_token is not None and not is_later_token(token, self._refused_token):
            error = ClientError(
                "token_expired", "get_token returned no token later than the expired one"
            )
            self._failed_before_open(rollover, error)
            return
        settings = self.settings
        client = WsClient(
            self.url,
            token,
            auth=settings.auth,
            query=settings.query,
            open_timeout=settings.connect_timeout,
        )
        link = Link(
            name,
            client,
            token,
            keepalive=settings.keepalive,
            reply_timeout=settings.reply_timeout,
            on_frame=self._frame,
            on_end=self._ended,
        )
        self._links[name] = link
        try:
            await link.open()
        except (OSError, TimeoutError, InvalidHandshake, HandshakeRejected) as err:
            self._links.pop(name, None)
            if self.state not in {"idle", "closed"} and not link.ended:
                self._failed_before_open(
                    rollover, handshake_error(err, self.settings.connect_timeout)
                )
            return
        if link.ended or name not in self._links:
            return  # stopped while it opened: the link closed itself
        self._opened(link)

    async def _fetch_token(self, reason: str) -> str:
        value: Any = self._token
        if self._get_token is not None:
            value = self._get_token(reason)
            if inspect.isawaitable(value):
                value = await value
        if not isinstance(value, str) or not value:
            raise ValueError("no token")
        return value

    def _opened(self, link: Link) -> None:
        reconnected = self._ever_opened
        self._ever_opened = True
        actions = self._core.open(link.name)
        primary = self._core.primary == link.name
        if primary:
            if self.state != "open":
                self._set_state("open")
            self._set_resume("resuming")
        self._emit(
            "open", reconnected=primary and reconnected, rollover=not primary, connection=link.name
        )
        self._run(actions)

    def _frame(self, link: Link, frame: Any) -> None:
        if link.name in self._links:
            self._run(self._core.receive(link.name, frame), link.name)

    def _ended(self, link: Link, ended: Ended) -> None:
        """A connection ended without the session asking: a drop, a dead peer, a
        token_expired, an unanswered resume."""
        self._links.pop(link.name, None)
        was_primary = self._core.primary == link.name
        self._core.lost(link.name)
        if ended.cause is not None:
            self._emit("error", code=ended.cause.code, message=str(ended.cause))
        stop = (
            ended.was_open
            and ended.cause is None
            and ended.code in self.settings.stop_on_close_codes
        )
        self._emit("close", code=ended.code, reason=ended.reason, was_open=ended.was_open,
                   will_reconnect=not stop, connection=link.name)  # fmt: skip
        if stop:
            self._stop("policy", ended.code, ended.reason)
            return
        error = ended.cause or ClientError("connection_lost", f"connection closed ({ended.code})")
        if self._core.primary is not None:  # another connection serves
            if was_primary:
                self._set_resume("resuming")
            else:
                self._attempt_failed(True, error)
        elif self._links:
            self._set_state("reconnecting", error.code)  # a rollover's connection takes over
        else:
            self._schedule_reconnect(error)

    def _failed_before_open(self, rollover: bool, error: ClientError) -> None:
        self._emit("error", code=error.code, message=str(error))
        final = error.code in {"refused", "connect_timeout"}  # a 5xx is connection_lost
        if not self._ever_opened and not rollover and final:
            self._stop("timeout" if error.code == "connect_timeout" else "refused", error=error)
            return
        self._attempt_failed(rollover, error)

    def _attempt_failed(self, rollover: bool, error: ClientError) -> None:
        if rollover and self._core.primary is not None:
            self._rollover_attempt += 1  # the first connection still serves: try again later
            delay = self.settings.backoff.delay(self._rollover_attempt, self._rng)
            self._set_timer("rollover", delay, self.rotate)
            return
        self._schedule_reconnect(error)

    def _schedule_reconnect(self, error: ClientError) -> None:
        self.attempt += 1
        backoff = self.settings.backoff
        if self.attempt > backoff.max_attempts:
            reason = "token_expired" if self._refused_token else "gave_up"
            what = "gave up" if reason == "gave_up" else "no fresh token"
            text = f"{what} after {backoff.max_attempts} attempts: {error}"
            self._stop(reason, error=ClientError(reason, text))
            return
        delay = backoff.delay(self.attempt, self._rng)
        self._set_state("reconnecting", error.code, delay=delay)
        self._set_timer("reconnect", delay, self._reconnect_now)

    def _reconnect_now(self) -> None:
        if self.state == "reconnecting":
            self._open_connection("token_expired" if self._refused_token else "reconnect")

    def _stop(
        self, reason: str, code: int = 1000, text: str = "", error: ClientError | None = None
    ) -> None:
        """The end: no connection, no timer, every waiting request failed."""
        for link in list(self._links.values()):
            link.dispose(code, text)
            self._core.lost(link.name)
        self._links.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        failure = error or ClientError("closed", f"connection {reason}")
        for future, timer in self._requests.values():
            timer.cancel()
            if not future.done():
                future.set_exception(failure)
        self._requests.clear()
        for rid in list(self._core.waiting):
            self._core.forget(rid)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(failure)
        self._waiters.clear()
        if self.state != "closed":
            self.close_reason = reason
            self._set_state("closed", reason, code=code)

    # -- what the core decided -------------------------------------------------------------

    def _run(self, actions: list[Action], source: str | None = None) -> None:
        for action in actions:
            self._act(action, source)
        if self._core.has_gap and "gap" not in self._timers:
            self._set_timer(
                "gap", self.settings.gap_timeout, lambda: self._run(self._core.gap_timeout())
            )
        elif not self._core.has_gap:
            self._clear_timer("gap")

    def _act(self, action: Action, source: str | None) -> None:  # one branch an action
        kind = action[0]
        if kind == "send":
            link = self._links.get(action[1])
            if link is not None:
                if action[2].get("type") == "resume":
                    link.arm_resume(
                        self.settings.reply_timeout,
                        ClientError("resume_failed", "resume unanswered"),
                    )
                link.send(action[2])
        elif kind == "deliver":
            self.last_seq = action[1]
            self._on_message(action[1], action[2])
        elif kind in {"reply", "reject"}:
            self._settle(kind, action[1], action[2])
        elif kind == "token_expired":
            self._token_expired(source, action[1])
        elif kind in {"resumed", "resync"}:
            self._resumed(action[1], kind, action[2])
        elif kind == "resume_failed":
            link = self._links.get(action[1])
            if link is not None:
                link.end(
                    4000,
                    "resume failed",
                    ClientError(
                        "resume_failed", f"resume refused: {action[2].get('error')}", action[2]
                    ),
                )
        elif kind == "promote":
            self._promoted(action[1], action[2])
        elif kind == "rotate":
            self.rotate()
        elif kind == "kicked":
            self._stop(
                "kicked",
                1000,
                action[2],
                ClientError("kicked", action[2] or "kicked by the backend"),
            )
        elif kind == "pong":
            link = self._links.get(action[1])
            if link is not None:
                link.pong()
        elif kind == "ignore":
            self._emit("unnumbered", frame=action[1])

    def _settle(self, kind: str, rid: str, frame: dict[str, Any]) -> None:
        entry = self._requests.pop(rid, None)
        if entry is None:
            return
        future, timer = entry
        timer.cancel()
        if future.done():
            return
        if kind == "reply":
            future.set_result(frame)
        else:
            code = frame.get("error") if isinstance(frame.get("error"), str) else "internal_error"
            future.set_exception(ClientError(str(code), str(frame.get("message") or code), frame))

    def _reply_timeout(self, rid: str, seconds: float) -> None:
        entry = self._requests.pop(rid, None)
        self._core.forget(rid)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(
                ClientError("reply_timeout", f"no reply to {rid} after {seconds} s")
            )

    def _resumed(self, name: str, kind: str, head: int) -> None:
        link = self._links.get(name)
        if link is not None:
            link.clear_resume()
        self.head_seq = head
        if kind == "resync":
            self.last_seq = self._core.last_seq
        if self._core.primary != name:
            return  # the rollover's connection: promoted next
        self.attempt = 0
        self._refused_token = None
        if self.state != "open":
            self._set_state("open")
        self._set_resume("resync_required" if kind == "resync" else "resumed")
        if kind == "resync":
            self._emit("resync", head_seq=head, last_seq=self.last_seq)
        if link is not None:
            settings = self.settings
            due = link.opened_at + settings.max_duration - settings.rollover_margin
            self._set_timer("rollover", max(0.0, due - time.time()), self.rotate)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def _promoted(self, name: str, replaced: str) -> None:
        old = self._links.pop(replaced, None)
        self._core.lost(replaced)
        if old is not None:
            old.dispose(1000, "rollover")
        self._rollover_attempt = 0
        self._emit("rollover", phase="done", source=replaced, target=name)

    def _token_expired(self, name: str | None, rid: str) -> None:
        """The handler refused our request (or resume): the token's exp has passed, and it
        closes the connection. Back off, get a later token, reconnect, resend."""
        link = self._links.get(name or "")
        error = ClientError("token_expired", f"the token expired (request {rid})")
        if self._get_token is None:
            self._stop("token_expired", error=error)
            return
        if link is not None:
            self._refused_token = link.token
            link.end(1000, "token expired", error)

    # -- helpers ---------------------------------------------------------------------------

    def _set_state(
        self,
        state: str,
        reason: str | None = None,
        *,
        code: int | None = None,
        delay: float | None = None,
    ) -> None:
        previous, self.state = self.state, state
        self._emit(
            "state",
            state=state,
            previous=previous,
            reason=reason,
            code=code,
            attempt=self.attempt,
            delay=delay,
        )

    def _set_resume(self, state: str) -> None:
        if self.resume_state != state:
            self.resume_state = state
            self._emit("resume", state=state, last_seq=self.last_seq, head_seq=self.head_seq)

    def _emit(self, kind: str, **detail: Any) -> None:
        self._on_event(Event(kind, detail))

    def _set_timer(self, key: str, seconds: float, callback: Callable[[], None]) -> None:
        self._clear_timer(key)

        def fire() -> None:
            self._timers.pop(key, None)
            callback()

        self._timers[key] = asyncio.get_running_loop().call_later(seconds, fire)

    def _clear_timer(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
