"""The scripted WebSocket session, one step a function, run in the order of
``SESSION_STEPS``. Each step shows what it does with ``demo.transcript.note`` and returns
the summary of its ``ok`` line; a failed check raises ``DemoFailed``.

Adding a step is one function decorated with ``@step("Title")`` and one line in
``SESSION_STEPS``, where it runs.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from wslocal.client import HandshakeRejected, WsClient
from wslocal.demo.context import (
    CONNECTION_TTL_SECONDS,
    FORGED,
    SESSION,
    USER,
    Demo,
    DemoFailed,
    check,
    poll,
    reply,
)
from wslocal.demo.topic_step import TOPIC_SIGNED_CALLS, topic_broadcast
from wslocal.devtoken import mint_token

__all__ = ["SESSION_STEPS", "Step", "step"]

# The backend calls of the session: validate, the command and resize messages, disconnect.
SIGNED_CALLS: Final = 4


@dataclass(frozen=True)
class Step:
    """One step of the session: its title in the transcript, and what it does."""

    title: str
    run: Callable[[Demo], Awaitable[str]]


def step(title: str) -> Callable[[Callable[[Demo], Awaitable[str]]], Step]:
    """Make the decorated coroutine function a step titled `title`."""

    def make(run: Callable[[Demo], Awaitable[str]]) -> Step:
        return Step(title, run)

    return make


@step("Mint a development token")
async def mint(demo: Demo) -> str:
    """With the key the authorizer reads."""
    secret_arn = demo.stack.info.jwt_secret_arn
    answer = await asyncio.to_thread(
        demo.stack.client("secretsmanager").get_secret_value, SecretId=secret_arn
    )
    key = str(answer.get("SecretString") or "")
    check(bool(key), f"secret {secret_arn} has no SecretString")
    demo.jwt_key = key
    demo.token = mint_token(key, sub=USER, session_id=SESSION)
    demo.transcript.note(f"key: Secrets Manager {secret_arn} (the authorizer's JWT_SECRET_ARN)")
    return f"HS256 token, sub={USER} sessionId={SESSION}, valid 1 h"


@step("Connect with the token")
async def connect(demo: Demo) -> str:
    """The authorizer allows, $connect validates with the backend and stores the record."""
    demo.transcript.note(f"{demo.ws_url}?token=<jwt>")
    client = WsClient(demo.ws_url, demo.token)
    try:
        await client.connect()
    except HandshakeRejected as err:
        raise DemoFailed(f"the handshake was refused with HTTP {err.status}") from None
    demo.client = client
    records = await asyncio.to_thread(demo.records)
    check(len(records) == 1, f"expected one connection record, found {records}")
    record = records[0]
    demo.connection_id = str(record["connectionId"])
    check(
        record.get("userId") == USER and record.get("sessionId") == SESSION,
        f"the record names {record.get('userId')}/{record.get('sessionId')}",
    )
    ttl = int(record["expiresAt"]) - int(time.time())
    check(
        abs(ttl - CONNECTION_TTL_SECONDS) <= 60,
        f"expiresAt should be ~{CONNECTION_TTL_SECONDS} s ahead (epoch seconds), is {ttl} s",
    )
    demo.transcript.note(
        f"record: connectionId={demo.connection_id} userId={USER} sessionId={SESSION} "
        f"expiresAt=now+{ttl} s"
    )
    return "connected; the record is in the table"


@step("ping -> pong")
async def ping_pong(demo: Demo) -> str:
    """Answered by the handler; the backend sees no message."""
    await demo.connection.send_json({"type": "ping"})
    pong = await reply(demo.connection, "pong")
    seen = await asyncio.to_thread(demo.backend, "GET", "/api/admin/messages")
    forwarded = [m for m in seen["messages"] if m.get("connectionId") == demo.connection_id]
    check(not forwarded, f"the ping reached the backend: {forwarded}")
    demo.transcript.note(f"<- {json.dumps(pong)}")
    return "answered by the connection handler, no backend call"


@step("command")
async def command(demo: Demo) -> str:
    """The echo-style result, with the identity from the token, not the forged one."""
    text = "uname -a"
    sent = {"type": "command", "command": text, **FORGED}
    demo.transcript.note(f"-> {json.dumps(sent)}")
    await demo.connection.send_json(sent)
    result = await reply(demo.connection, "command_result")
    demo.transcript.note(f"<- {json.dumps(result)}")
    check(
        result.get("result") == {"output": text, "exitCode": 0, "executed": False},
        f"expected the echo of {text!r} (executed: false), got {result.get('result')!r}",
    )
    identity = {key: result.get(key) for key in FORGED}
    expected = {"userId": USER, "sessionId": SESSION, "connectionId": demo.connection_id}
    check(identity == expected, f"identity fields should be {expected}, are {identity}")
    return (
        f"echoed, not executed; userId={USER} sessionId={SESSION} came from the token "
        f"(the client sent userId={FORGED['userId']} sessionId={FORGED['sessionId']})"
    )


@step("resize")
async def resize(demo: Demo) -> str:
    """Acknowledged, and kept in the backend's session state."""
    await demo.connection.send_json({"type": "resize", "cols": 120, "rows": 40})
    ack = await reply(demo.connection, "resize_ack")
    check((ack.get("cols"), ack.get("rows")) == (120, 40), f"unexpected resize_ack {ack!r}")
    demo.transcript.note(f"<- {json.dumps(ack)}")
    state = await asyncio.to_thread(demo.backend, "GET", f"/api/admin/sessions/{SESSION}/state")
    terminal = state.get("terminal") or {}
    check(
        (terminal.get("cols"), terminal.get("rows")) == (120, 40),
        f"the backend's session state should hold 120x40, holds {state!r}",
    )
    store = state.get("store")
    check(
        store == ("redis" if demo.session_store else "memory"),
        f"the session state is kept in {store!r}",
    )
    results = len(state.get("recentResults") or [])
    demo.transcript.note(
        f"session state kept in {store}: terminal 120x40, {results} recent command result(s)"
    )
    return "120x40 acknowledged"


@step("Backend push")
async def backend_push(demo: Demo) -> str:
    """The backend's push through @connections arrives on the connection."""
    notice = {"type": "notice", "text": "hello from the backend"}
    path = f"/api/push/session/{SESSION}"
    outcome = await asyncio.to_thread(demo.backend, "POST", path, notice)
    demo.transcript.note(f"POST {demo.backend_url}{path} -> {json.dumps(outcome)}")
    counts = {key: outcome.get(key) for key in ("sent", "gone", "failed")}
    check(counts == {"sent": 1, "gone": 0, "failed": 0}, f"expected one delivery, got {outcome}")
    pushed = await reply(demo.connection, "notice")
    numbered = {"seq": outcome.get("seq"), **notice}
    check(pushed == numbered, f"received {pushed!r}, pushed {numbered!r}")
    demo.transcript.note(f"<- {json.dumps(pushed)}")
    return (
        "the backend SDK's session layer numbers it (seq), then ws_bridge_backend.push: "
        "sessionId-index query, @connections POST"
    )


topic = step("Topic broadcast through the fan-out queue")(topic_broadcast)


@step("Bad token rejected")
async def bad_token_rejected(demo: Demo) -> str:
    """A token signed with another key is refused; nothing is stored."""
    forged_token = mint_token(secrets.token_urlsafe(32), sub=USER, session_id=SESSION)
    demo.transcript.note(f"a token for {USER}/{SESSION} signed with another key")
    status: int | None = None
    try:
        async with WsClient(demo.ws_url, forged_token):
            pass
    except HandshakeRejected as err:
        status = err.status
    check(status == 401, f"the forged token was not refused with 401 (status {status})")
    records = await asyncio.to_thread(demo.records)
    ids = [str(r["connectionId"]) for r in records]
    check(ids == [demo.connection_id], f"the table should hold only our connection: {ids}")
    return f"handshake answered HTTP {status}; nothing stored"


@step("Disconnect")
async def disconnect(demo: Demo) -> str:
    """The record goes, the backend is told, and every handler call was signed."""
    await demo.connection.close(1000, "demo done")

    def record_gone() -> bool | None:
        remaining = [r for r in demo.records() if r["connectionId"] == demo.connection_id]
        return True if not remaining else None

    def notice_received() -> dict[str, Any] | None:
        received = demo.backend("GET", "/api/admin/disconnects")["disconnects"]
        mine = [d for d in received if d.get("connectionId") == demo.connection_id]
        return mine[-1] if mine else None

    await poll(record_gone, "the connection record is still in the table")
    demo.transcript.note("record removed from the table")
    told = await poll(notice_received, "the backend got no disconnect notice")
    check(
        (told.get("userId"), told.get("sessionId"), told.get("disconnectStatusCode"))
        == (USER, SESSION, 1000),
        f"unexpected disconnect notice {told}",
    )
    shown = {k: v for k, v in told.items() if k != "receivedAt"}
    demo.transcript.note(f"backend notice: {json.dumps(shown)}")
    demo.transcript.note(_signatures_seen(demo))
    return "$disconnect removed the record and notified the backend"


def _signatures_seen(demo: Demo) -> str:
    """What the backend's signature check saw (``DemoFailed`` when it refused any)."""
    seen = demo.backend("GET", "/api/admin/signatures")
    if not seen.get("signing"):
        return "backend request signatures: off (examples/local outputs no signing secret)"
    refused = seen.get("refused") or {}
    check(not refused, f"the backend refused handler requests: {refused}")
    topic_calls = TOPIC_SIGNED_CALLS if demo.topics else 0
    what = "validate, 2 messages, disconnect" + (
        f"; {topic_calls} of the topic step" if topic_calls else ""
    )
    expected = SIGNED_CALLS + topic_calls
    check(
        seen.get("verified") == expected,
        f"expected {expected} signed requests ({what}), the backend verified "
        f"{seen.get('verified')}",
    )
    return f"backend request signatures: {expected} verified ({what}), 0 refused"


# The session, in order: after the stack steps (emulator, apply, services), before teardown.
SESSION_STEPS: Final[tuple[Step, ...]] = (
    mint,
    connect,
    ping_pong,
    command,
    resize,
    backend_push,
    topic,
    bad_token_rejected,
    disconnect,
)
