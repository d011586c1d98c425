"""The session layer: a backend's message call through the session protocol
(docs/design.md, "Session protocol"), for WSGI and ASGI apps alike.

    layer = SessionLayer(RedisStream(client), RedisRequestLedger(client), PusherDelivery(pusher))

    def on_message(call: BridgeCall, message: Mapping[str, Any]) -> Mapping[str, Any]:
        if message.get("type") == "command":
            return {"type": "command_result", "output": run(message["command"])}
        raise SessionError("unknown_type", "type must be command")

    answer = layer.handle(call, on_message)          # Flask: in the message route
    answer = await layer.handle_async(call, handler)  # Starlette/FastAPI (handler sync or async)
    return Response(answer.body, status=answer.status, mimetype="application/json")

For each message call:

- ``resume`` (``{"type":"resume","id","lastSeq"}``) is answered from the stream:
  ``resumed`` (the frames after ``lastSeq``, as many as fit one 128 KB message, ``more`` when
  others follow) or ``resync_required``; the app never sees it;
- any other message runs ``app(call, message)`` once per request id (``id``) within the
  idempotency window: a repeat gets the stored reply (the same frames, the same seq), a
  repeat while the first still runs gets ``pending``. A message without ``id`` runs each
  time (clients of the protocol always send one);
- the reply (``SessionError`` raised by the app becomes an error reply) gets the request's
  ``id`` and the session's next ``seq``: it is the route's answer to the requester, and is
  pushed to the session's other connections (``delivery``). A reply over the stream frame
  limit goes as chunks, the first as the answer; over ``max_message_bytes`` it is replaced
  by the error reply ``reply_too_large``.

:meth:`SessionLayer.push` numbers a message of the backend's own and sends it to every
connection of the session. Store failures (Redis unreachable) answer 503, which the
connection handler turns into the request's ``backend_error``; an exception of the app's
propagates (its request is forgotten, so a resend runs it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ws_bridge_backend.calls import BridgeCall
from ws_bridge_backend.chunks import chunk_bodies, chunk_count, needs_chunks
from ws_bridge_backend.delivery import Delivery
from ws_bridge_backend.frames import (
    MAX_MESSAGE_BYTES,
    encode,
    error_frame,
    is_request_id,
    pending_frame,
    resumed_frame,
    resumed_overhead,
    resync_frame,
)
from ws_bridge_backend.idempotency import RequestKey, RequestLedger, RequestState
from ws_bridge_backend.push import PushResult
from ws_bridge_backend.stream import SessionStoreError, StreamStore

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "AppHandler",
    "Pushed",
    "SessionAnswer",
    "SessionError",
    "SessionLayer",
]

# The largest message (reply or push) the layer sends, chunked beyond one frame.
DEFAULT_MAX_MESSAGE_BYTES: Final = 1024 * 1024
# The largest head a resume answer may name: its digits bound the answer's envelope.
_HEAD_BOUND: Final = 10**16 - 1

log = logging.getLogger("ws_bridge_backend.sessions")

type Reply = Mapping[str, Any]
type AppHandler = Callable[[BridgeCall, Mapping[str, Any]], Reply | Awaitable[Reply]]


class SessionError(Exception):
    """Raised by an app handler: the client gets ``{"type":"error","error":code,"message":
    message,"id":...,"seq":...}``, numbered and kept like any reply."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


@dataclass(frozen=True, slots=True)
class SessionAnswer:
    """The message route's answer: ``body`` (one JSON frame) with ``status``."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Pushed:
    """A pushed message's seqs (first and last: more than one when chunked) and what the
    fan-out did, counted per frame (None without a delivery)."""

    first_seq: int
    last_seq: int
    result: PushResult | None


@dataclass(frozen=True, slots=True)
class _Run:
    """A request the app must run: its key (None without an id) and its message."""

    call: BridgeCall
    request_id: str | None
    key: RequestKey | None


def _answer(frame: str, status: int = 200) -> SessionAnswer:
    return SessionAnswer(frame.encode("utf-8"), status)


def _seq_of(frame: str) -> int:
    return int(frame[len('{"seq":') :].split(",", 1)[0].rstrip("}"))


class SessionLayer:
    """The session protocol's backend side over ``stream`` (numbered frames kept for
    resumes), ``requests`` (idempotency) and ``delivery`` (the fan-out; None: frames are
    only kept, and clients get them when they resume)."""

    def __init__(
        self,
        stream: StreamStore,
        requests: RequestLedger,
        delivery: Delivery | None = None,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if max_message_bytes < MAX_MESSAGE_BYTES:
            raise ValueError(f"max_message_bytes must be at least {MAX_MESSAGE_BYTES}")
        if chunk_count(max_message_bytes) > stream.settings.max_messages:
            raise ValueError("the stream must keep every chunk of the largest message")
        self.stream = stream
        self.requests = requests
        self.delivery = delivery
        self.max_message_bytes = max_message_bytes

    # -- the message call ----------------------------------------------------------------

    def handle(self, call: BridgeCall, app: AppHandler) -> SessionAnswer:
        """Answer one message call (``app`` must not be a coroutine function here: use
        :meth:`handle_async`)."""
        step = self._guarded(self._begin, call)
        if isinstance(step, SessionAnswer):
            return step
        try:
            reply = app(call, call.body)
            if inspect.isawaitable(reply):
                if inspect.iscoroutine(reply):
                    reply.close()
                raise TypeError("an async app handler needs handle_async")
        except SessionError as err:
            reply = error_frame(err.code, err.message)
        except BaseException:
            self._abandon(step)
            raise
        return self._guarded(self._finish, step, reply)

    async def handle_async(self, call: BridgeCall, app: AppHandler) -> SessionAnswer:
        """:meth:`handle` for ASGI apps: the store calls in a thread; ``app`` a coroutine
        function (awaited) or a plain one (run in a thread: it may block)."""
        step = await asyncio.to_thread(self._guarded, self._begin, call)
        if isinstance(step, SessionAnswer):
            return step
        try:
            if inspect.iscoroutinefunction(app):
                reply = await app(call, call.body)
            else:
                reply = await asyncio.to_thread(app, call, call.body)
            if inspect.isawaitable(reply):
                reply = await reply
        except SessionError as err:
            reply = error_frame(err.code, err.message)
        except BaseException:
            await asyncio.to_thread(self._abandon, step)
            raise
        return await asyncio.to_thread(self._guarded, self._finish, step, reply)

    @staticmethod
    def _guarded[**P, T](
        step: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T | SessionAnswer:
        """``step``, or 503 when the session store cannot be reached."""
        try:
            return step(*args, **kwargs)
        except SessionStoreError as exc:
            log.error("the session store cannot be reached", extra={"error": str(exc)})
            return _answer('{"error":"session_store_unavailable"}', 503)

    def _begin(self, call: BridgeCall) -> _Run | SessionAnswer:
        body = call.body
        request_id = body.get("id")
        if body.get("type") == "resume":
            return self._resume(call, request_id)
        if request_id is None:
            return _Run(call, None, None)
        if not is_request_id(request_id):
            frame = error_frame("invalid_id", "id must match [A-Za-z0-9._:-]{1,64}")
            return _answer(encode(frame))
        key = RequestKey(call.session_id, call.user_id, request_id)
        begun = self.requests.begin(key)
        if begun.state is RequestState.RUNNING:
            return _answer(pending_frame(request_id))
        if begun.state is RequestState.ANSWERED:
            first, *rest = begun.frames
            if rest and self.delivery is not None:
                self.delivery.to_connection(call.connection_id, rest)
            return _answer(first)
        return _Run(call, request_id, key)

    def _resume(self, call: BridgeCall, request_id: Any) -> SessionAnswer:
        last = call.body.get("lastSeq")
        if not is_request_id(request_id):
            frame = error_frame("invalid_id", "id must match [A-Za-z0-9._:-]{1,64}")
            return _answer(encode(frame))
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            frame = error_frame("invalid_resume", "lastSeq must be an integer >= 0", request_id)
            return _answer(encode(frame))
        budget = MAX_MESSAGE_BYTES - resumed_overhead(request_id, _HEAD_BOUND)
        read = self.stream.read(call.session_id, last, budget)
        if read.frames is None:
            return _answer(resync_frame(request_id, read.head))
        return _answer(resumed_frame(request_id, read.head, read.frames, read.more))

    def _abandon(self, step: _Run) -> None:
        if step.key is not None:
            try:
                self.requests.abandon(step.key)
            except SessionStoreError as exc:  # the running mark expires on its own
                log.warning("failed request not forgotten", extra={"error": str(exc)})

    def _finish(self, step: _Run, reply: object) -> SessionAnswer:
        if not isinstance(reply, Mapping):
            self._abandon(step)
            raise TypeError("an app handler returns a JSON object (a mapping)")
        call = step.call
        try:
            frames = self._append(call.session_id, reply, step.request_id)
        except BaseException:
            self._abandon(step)
            raise
        if step.key is not None:
            try:
                self.requests.finish(step.key, frames)
            except SessionStoreError as exc:  # answered anyway: a repeat gets pending
                log.error("reply not kept for repeats", extra={"error": str(exc)})
        if self.delivery is not None:
            try:
                self.delivery.to_session(call.session_id, frames, exclude=call.connection_id)
                if len(frames) > 1:
                    self.delivery.to_connection(call.connection_id, frames[1:])
            except Exception:  # the stream holds the frames: resumes deliver them
                log.exception("reply not pushed to the session's other connections")
        return _answer(frames[0])

    # -- the backend's own messages ------------------------------------------------------

    def push(self, session_id: str, message: Mapping[str, Any]) -> Pushed:
        """Number ``message`` (a JSON object without ``seq``) and send it to every
        connection of the session. ``ValueError`` for a message over
        ``max_message_bytes``; a delivery failure propagates (the frames are kept: clients
        get them when they resume)."""
        if "seq" in message:
            raise ValueError("seq is the stream's: a pushed message has none")
        frames = self._append(session_id, message, None, refuse=True)
        result = None
        if self.delivery is not None:
            result = self.delivery.to_session(session_id, frames)
        return Pushed(_seq_of(frames[0]), _seq_of(frames[-1]), result)

    def _append(
        self, session_id: str, message: Reply, request_id: str | None, *, refuse: bool = False
    ) -> list[str]:
        """``message`` with ``id`` (a reply), encoded, chunked when needed, numbered."""
        fields = {key: value for key, value in message.items() if key != "seq"}
        if request_id is not None:
            fields["id"] = request_id
        body = encode(fields)
        size = len(body.encode("utf-8"))
        if size > self.max_message_bytes:
            text = f"{size} bytes is over the {self.max_message_bytes}-byte limit"
            if refuse:
                raise ValueError(f"message_too_large: {text}")
            log.warning("reply refused: too large", extra={"bytes": size})
            body = encode(error_frame("reply_too_large", f"The reply is {text}.", request_id))
        bodies = chunk_bodies(body) if needs_chunks(body) else [body]
        return self.stream.append(session_id, bodies)
