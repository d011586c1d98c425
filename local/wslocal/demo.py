"""`make demo`: the module applied to a local AWS emulator and one scripted WebSocket session
held through exactly what Terraform deployed, then everything torn down.

Run it with::

    python -m wslocal.demo [--keep-running] [--emulator-port N] [--gateway-port N]
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
10. a forged token is refused at the handshake and nothing is stored;
11. closing the connection removes its record and the backend gets the disconnect notice;
12. ``terraform destroy`` and every process stopped.

``--keep-running`` leaves the stack up after step 11, prints the commands to explore it by
hand with ``python -m wslocal.client``, and tears down on Ctrl-C (or SIGTERM). No process
started here outlives the demo, Ctrl-C included.

Exit status: 0 every step passed (with ``--keep-running``: and Ctrl-C ended the hold);
1 a step failed; 130 interrupted before the end; 64 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TextIO

from websockets.exceptions import ConnectionClosed

from wslocal.client import HandshakeRejected, WsClient
from wslocal.devtoken import mint_token
from wslocal.stack import (
    FAKE_CREDENTIALS,
    REPO_ROOT,
    ManagedProcess,
    PortTaken,
    Stack,
    StackConfig,
    StackError,
    backend_service,
    free_port,
    gateway_service,
    port_accepts,
    save_logs,
)
from wslocal.stack import choose_ports as stack_choose_ports
from wslocal.stack.interrupts import patient_signals, unwind_on_signals

__all__ = ["DEFAULT_PORTS", "STEPS", "DemoFailed", "Transcript", "choose_ports", "main"]

STEPS: Final = (
    "Start the emulator",
    "Apply examples/local with Terraform",
    "Start the backend and the gateway",
    "Mint a development token",
    "Connect with the token",
    "ping -> pong",
    "command",
    "resize",
    "Backend push",
    "Bad token rejected",
    "Disconnect",
    "Tear down",
)
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "emulator": 4566,
    "gateway": 8080,
    "backend": 8081,
    "connections": 8082,
}
USER: Final = "alice"
SESSION: Final = "lab-1"
# The identity a client tries to claim in its message body; the handler must overwrite it.
FORGED: Final[Mapping[str, str]] = {
    "userId": "mallory",
    "sessionId": "lab-2",
    "connectionId": "forged-connection",
}
CONNECTION_TTL_SECONDS: Final = 7200
REPLY_TIMEOUT: Final = 10.0
POLL_TIMEOUT: Final = 10.0
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 64
EXIT_INTERRUPTED: Final = 130
INDENT: Final = " " * 8


class DemoFailed(Exception):
    """A step's check failed; the message says what was expected and what happened."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


# ---------------------------------------------------------------------------------------
# Transcript
# ---------------------------------------------------------------------------------------


class Transcript:
    """Numbered steps on stdout: ``[ n/12] Title``, indented details, then ``ok`` or
    ``FAILED``, each with the step's duration."""

    def __init__(self, steps: tuple[str, ...] = STEPS, out: TextIO | None = None) -> None:
        self.steps = steps
        self.out = out
        self.number = 0
        self.open = False
        self._started = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def begin(self, index: int) -> None:
        """Start step `index` (1-based, in `steps`)."""
        if self.open:
            raise RuntimeError(f"step {self.number} is still open")
        self.number = index
        self.open = True
        self._started = time.monotonic()
        self._print(f"[{index:>2}/{len(self.steps)}] {self.steps[index - 1]}")

    def note(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._print(f"{INDENT}{line}")

    def ok(self, summary: str = "") -> None:
        elapsed = time.monotonic() - self._started
        self.open = False
        self._print(f"{INDENT}ok ({elapsed:.1f} s){': ' + summary if summary else ''}")

    def fail(self, reason: str) -> None:
        self.open = False
        lines = reason.strip().splitlines() or ["(no detail)"]
        self._print(f"{INDENT}FAILED: {lines[0]}")
        for line in lines[1:]:
            self._print(f"{INDENT}  {line}")

    def say(self, text: str) -> None:
        self._print(text)


# ---------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------


def choose_ports(requested: Mapping[str, int | None]) -> tuple[dict[str, int], list[str]]:
    """The port of each service and notes about the ones that differ from the defaults
    (``wslocal.stack.choose_ports`` over ``DEFAULT_PORTS``; ``DemoFailed`` for a taken
    explicit port)."""
    try:
        return stack_choose_ports(requested, DEFAULT_PORTS)
    except PortTaken as err:
        raise DemoFailed(str(err)) from None


# ---------------------------------------------------------------------------------------
# The stack, reporting when the emulator is up
# ---------------------------------------------------------------------------------------


class _DemoStack(Stack):
    """``Stack`` that tells the transcript when the emulator is up.

    ``Stack.start`` starts the emulator and creates the signing secret before it runs
    ``terraform init``: that call marks the end of step 1.
    """

    def __init__(self, config: StackConfig, on_emulator_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_emulator_ready = on_emulator_ready
        self.apply_seconds = 0.0
        self.apply_attempted = False

    def terraform_init(self) -> None:
        self._on_emulator_ready()
        super().terraform_init()

    def terraform_apply(self) -> float:
        self.apply_attempted = True
        self.apply_seconds = super().terraform_apply()
        return self.apply_seconds


@dataclass
class Demo:
    """The running stack and what the session steps share."""

    stack: Stack
    transcript: Transcript
    ports: Mapping[str, int]
    token: str = ""
    connection_id: str = ""
    session_store: bool = False  # the backend keeps its session state in a local Redis

    @property
    def ws_url(self) -> str:
        return self.stack.outputs.local_websocket_url

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['backend']}"

    def backend(self, method: str, path: str, body: Any = None) -> Any:
        """Call the reference backend; its JSON answer (``DemoFailed`` on an HTTP error)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{self.backend_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise DemoFailed(f"{method} {path} answered HTTP {err.code}: {err.read()!r}") from None
        except (OSError, ValueError) as err:
            raise DemoFailed(f"{method} {path} failed: {err}") from None

    def records(self) -> list[dict[str, Any]]:
        """Every connection record in the table, attribute values unwrapped."""
        items = self.stack.client("dynamodb").scan(TableName=self.stack.outputs.table_name)
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in items["Items"]
        ]


async def _poll[T](probe: Callable[[], T | None], what: str, timeout: float = POLL_TIMEOUT) -> T:
    """Call `probe` (in a thread) until it returns something, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(probe)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise DemoFailed(f"{what} (waited {timeout:.0f} s)")
        await asyncio.sleep(0.1)


async def _reply(client: WsClient, expected_type: str) -> dict[str, Any]:
    try:
        reply = await client.receive_json(REPLY_TIMEOUT)
    except TimeoutError:
        raise DemoFailed(f"no {expected_type!r} reply within {REPLY_TIMEOUT:.0f} s") from None
    except ConnectionClosed as err:
        raise DemoFailed(f"the connection closed instead of answering: {err}") from None
    except ValueError as err:
        raise DemoFailed(f"the reply is not JSON: {err}") from None
    check(
        isinstance(reply, dict) and reply.get("type") == expected_type,
        f"expected a {expected_type!r} reply, got {reply!r}",
    )
    result: dict[str, Any] = reply
    return result


# ---------------------------------------------------------------------------------------
# The session steps (4-11)
# ---------------------------------------------------------------------------------------


async def run_session(demo: Demo) -> None:
    out = demo.transcript
    stack = demo.stack

    # 4. Mint a development token with the key the authorizer reads.
    out.begin(4)
    secret_arn = stack.info.jwt_secret_arn
    answer = await asyncio.to_thread(
        stack.client("secretsmanager").get_secret_value, SecretId=secret_arn
    )
    key = str(answer.get("SecretString") or "")
    check(bool(key), f"secret {secret_arn} has no SecretString")
    demo.token = mint_token(key, sub=USER, session_id=SESSION)
    out.note(f"key: Secrets Manager {secret_arn} (the authorizer's JWT_SECRET_ARN)")
    out.ok(f"HS256 token, sub={USER} sessionId={SESSION}, valid 1 h")

    # 5. Connect: the authorizer allows, $connect validates with the backend and stores.
    out.begin(5)
    out.note(f"{demo.ws_url}?token=<jwt>")
    client = WsClient(demo.ws_url, demo.token)
    try:
        await client.connect()
    except HandshakeRejected as err:
        raise DemoFailed(f"the handshake was refused with HTTP {err.status}") from None
    try:
        await _session_on(demo, client)
    finally:
        await client.close()


async def _session_on(demo: Demo, client: WsClient) -> None:
    out = demo.transcript
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
    out.note(
        f"record: connectionId={demo.connection_id} userId={USER} sessionId={SESSION} "
        f"expiresAt=now+{ttl} s"
    )
    out.ok("connected; the record is in the table")

    # 6. ping → pong from the handler; the backend sees no message.
    out.begin(6)
    await client.send_json({"type": "ping"})
    pong = await _reply(client, "pong")
    seen = await asyncio.to_thread(demo.backend, "GET", "/api/admin/messages")
    forwarded = [m for m in seen["messages"] if m.get("connectionId") == demo.connection_id]
    check(not forwarded, f"the ping reached the backend: {forwarded}")
    out.note(f"<- {json.dumps(pong)}")
    out.ok("answered by the connection handler, no backend call")

    # 7. command: echo-style result, identity from the token.
    out.begin(7)
    command = "uname -a"
    sent = {"type": "command", "command": command, **FORGED}
    out.note(f"-> {json.dumps(sent)}")
    await client.send_json(sent)
    result = await _reply(client, "command_result")
    out.note(f"<- {json.dumps(result)}")
    check(
        result.get("result") == {"output": command, "exitCode": 0, "executed": False},
        f"expected the echo of {command!r} (executed: false), got {result.get('result')!r}",
    )
    identity = {key: result.get(key) for key in FORGED}
    expected = {"userId": USER, "sessionId": SESSION, "connectionId": demo.connection_id}
    check(identity == expected, f"identity fields should be {expected}, are {identity}")
    out.ok(
        f"echoed, not executed; userId={USER} sessionId={SESSION} came from the token "
        f"(the client sent userId={FORGED['userId']} sessionId={FORGED['sessionId']})"
    )

    # 8. resize.
    out.begin(8)
    await client.send_json({"type": "resize", "cols": 120, "rows": 40})
    ack = await _reply(client, "resize_ack")
    check((ack.get("cols"), ack.get("rows")) == (120, 40), f"unexpected resize_ack {ack!r}")
    out.note(f"<- {json.dumps(ack)}")
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
    out.note(f"session state kept in {store}: terminal 120x40, {results} recent command result(s)")
    out.ok("120x40 acknowledged")

    # 9. Backend push through @connections.
    out.begin(9)
    notice = {"type": "notice", "text": "hello from the backend"}
    path = f"/api/push/session/{SESSION}"
    outcome = await asyncio.to_thread(demo.backend, "POST", path, notice)
    out.note(f"POST {demo.backend_url}{path} -> {json.dumps(outcome)}")
    check(
        outcome == {"sent": 1, "gone": 0, "failed": 0},
        f"expected one delivery, got {outcome}",
    )
    pushed = await _reply(client, "notice")
    check(pushed == notice, f"received {pushed!r}, pushed {notice!r}")
    out.note(f"<- {json.dumps(pushed)}")
    out.ok("ws_bridge.push: sessionId-index query, then @connections POST")

    # 10. A forged token (signed with another key) is refused; nothing is stored.
    out.begin(10)
    forged_token = mint_token(secrets.token_urlsafe(32), sub=USER, session_id=SESSION)
    out.note(f"a token for {USER}/{SESSION} signed with another key")
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
    out.ok(f"handshake answered HTTP {status}; nothing stored")

    # 11. Disconnect: the record goes, the backend is told.
    out.begin(11)
    await client.close(1000, "demo done")

    def record_gone() -> bool | None:
        remaining = [r for r in demo.records() if r["connectionId"] == demo.connection_id]
        return True if not remaining else None

    def notice_received() -> dict[str, Any] | None:
        received = demo.backend("GET", "/api/admin/disconnects")["disconnects"]
        mine = [d for d in received if d.get("connectionId") == demo.connection_id]
        return mine[-1] if mine else None

    await _poll(record_gone, "the connection record is still in the table")
    out.note("record removed from the table")
    told = await _poll(notice_received, "the backend got no disconnect notice")
    check(
        (told.get("userId"), told.get("sessionId"), told.get("disconnectStatusCode"))
        == (USER, SESSION, 1000),
        f"unexpected disconnect notice {told}",
    )
    out.note(f"backend notice: {json.dumps({k: v for k, v in told.items() if k != 'receivedAt'})}")
    out.note(_signatures_seen(demo))
    out.ok("$disconnect removed the record and notified the backend")


# The backend calls of steps 5-11: validate, the command and resize messages, disconnect.
SIGNED_CALLS: Final = 4


def _signatures_seen(demo: Demo) -> str:
    """What the backend's signature check saw (``DemoFailed`` when it refused any)."""
    seen = demo.backend("GET", "/api/admin/signatures")
    if not seen.get("signing"):
        return "backend request signatures: off (examples/local outputs no signing secret)"
    refused = seen.get("refused") or {}
    check(not refused, f"the backend refused handler requests: {refused}")
    check(
        seen.get("verified") == SIGNED_CALLS,
        f"expected {SIGNED_CALLS} signed requests (validate, 2 messages, disconnect), "
        f"the backend verified {seen.get('verified')}",
    )
    return (
        f"backend request signatures: {SIGNED_CALLS} verified (validate, 2 messages, "
        "disconnect), 0 refused"
    )


# ---------------------------------------------------------------------------------------
# Steps 1-3, the hold, teardown
# ---------------------------------------------------------------------------------------


def _services_ready(demo: Demo) -> None:
    stack = demo.stack
    sessions = (f"{SESSION}:{USER}", f"{SESSION}:bob")
    backend = backend_service(sessions)
    if demo.session_store:
        from wslocal.redis_service import redis_backend_service, redis_service, redis_url

        redis_port = free_port()
        stack.start_service(redis_service(redis_port))
        backend = redis_backend_service(redis_url(redis_port), sessions)
        demo.transcript.note(f"session store redis://127.0.0.1:{redis_port} (the backend's state)")
    for service in (backend, gateway_service()):
        stack.start_service(service)
    health = demo.backend("GET", "/api/admin/health")
    check(health == {"ok": True}, f"backend health answered {health}")
    check(port_accepts(demo.ports["gateway"]), "the gateway does not accept connections")
    check(
        port_accepts(demo.ports["connections"]), "the gateway's @connections port does not accept"
    )
    demo.transcript.note(f"backend      {demo.backend_url}")
    demo.transcript.note(f"gateway      {demo.ws_url}")
    demo.transcript.note(f"@connections {stack.outputs.local_callback_url}")
    signing = stack.outputs.backend_signing_secret_arn
    demo.transcript.note(
        f"signing      handler->backend requests signed with {signing}"
        if signing
        else "signing      off: examples/local outputs no backend_signing_secret_arn"
    )


def _exploration_commands(demo: Demo) -> str:
    stack = demo.stack
    info = stack.info
    python = shlex.quote(sys.executable)
    env = {
        "AWS_ENDPOINT_URL": info.endpoint_url,
        "AWS_REGION": stack.config.region,
        "AWS_DEFAULT_REGION": stack.config.region,  # the one botocore reads
        **FAKE_CREDENTIALS,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "lambda"), str(REPO_ROOT / "local")]),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    token_flags = (
        f"--secret-arn {shlex.quote(info.jwt_secret_arn)} --sub {USER} --session {SESSION}"
    )
    url = shlex.quote(demo.ws_url)
    messages = ['{"type":"ping"}', '{"type":"command","command":"ls -la"}']
    sends = " ".join(f"--send {shlex.quote(m)}" for m in messages)
    push = shlex.quote('{"type":"notice","text":"hi"}')
    return "\n".join(
        [
            "The stack stays up until Ctrl-C. In another shell:",
            "",
            f"  export {exports}",
            f"  {python} -m wslocal.client mint {token_flags}",
            f"  {python} -m wslocal.client connect {url} {token_flags} {sends}",
            f"  {python} -m wslocal.client connect {url} {token_flags} --listen -1",
            f"  curl -s -X POST {demo.backend_url}/api/push/session/{SESSION} "
            f"-H 'Content-Type: application/json' -d {push}",
            "",
            "Ctrl-C here tears everything down.",
        ]
    )


def _hold() -> NoReturn:
    while True:
        time.sleep(1)


def _teardown(demo: Demo) -> bool:
    """Step 12: stop the services, terraform destroy, stop the emulator. Whether it passed."""
    out = demo.transcript
    stack = demo.stack
    out.begin(12)
    processes: list[ManagedProcess] = [*stack.services.values()]
    if stack.emulator is not None:
        processes.append(stack.emulator)
    applied = isinstance(stack, _DemoStack) and stack.apply_attempted
    try:
        stack.close()
        running = [p.name for p in processes if p.running()]
        check(not running, f"still running: {', '.join(running)}")
        listening = [f"{n} {p}" for n, p in demo.ports.items() if port_accepts(p)]
        check(not listening, f"ports still accepting: {', '.join(listening)}")
    except Exception as err:  # noqa: BLE001 - reported as the teardown's failure
        out.fail(_describe(err))
        return False
    stopped = ", ".join(p.name for p in processes) or "nothing was running"
    out.ok(("terraform destroy; " if applied else "") + f"stopped: {stopped}")
    return True


def _describe(error: BaseException) -> str:
    """The failure as the transcript shows it: our own errors by their message, anything
    else with its type."""
    if isinstance(error, DemoFailed | StackError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def run(
    ports: Mapping[str, int],
    *,
    keep_running: bool = False,
    session_store: bool = False,
    out: TextIO | None = None,
) -> int:
    transcript = Transcript(out=out)
    started = time.monotonic()

    def emulator_ready() -> None:
        transcript.ok(f"{stack.endpoint_url} (moto + the API Gateway v2 extension)")
        transcript.begin(2)

    config = StackConfig(
        emulator_port=ports["emulator"],
        gateway_port=ports["gateway"],
        backend_port=ports["backend"],
        connections_port=ports["connections"],
        progress=lambda message: transcript.note(f". {message}"),
    )
    stack = _DemoStack(config, emulator_ready)
    demo = Demo(stack, transcript, ports, session_store=session_store)
    status = EXIT_OK
    failed_step = 0
    try:
        transcript.begin(1)
        stack.start()
        transcript.ok(
            f"apply {stack.apply_seconds:.1f} s; API {stack.outputs.api_id}, "
            f"stage {stack.outputs.stage_name}, table {stack.outputs.table_name}"
        )
        transcript.begin(3)
        _services_ready(demo)
        transcript.ok()
        asyncio.run(run_session(demo))
        if keep_running:
            transcript.say("")
            transcript.say(_exploration_commands(demo))
            try:
                _hold()
            except KeyboardInterrupt:
                transcript.say("Ctrl-C: tearing down")
    except KeyboardInterrupt:
        if transcript.open:
            transcript.fail("interrupted")
        status = EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - any failure is the current step's, reported
        if not transcript.open:
            transcript.begin(transcript.number + 1)
        transcript.fail(_describe(err))
        failed_step = transcript.number
        saved = save_logs(stack.workdir)
        if saved is not None:
            transcript.note(f"logs kept in {saved}")
        status = EXIT_FAILED
    finally:
        transcript.open = False
        with patient_signals(lambda: transcript.note("tearing down, please wait")):
            torn_down = _teardown(demo)
    if not torn_down and status == EXIT_OK:
        status, failed_step = EXIT_FAILED, len(STEPS)
    elapsed = time.monotonic() - started
    if status == EXIT_OK:
        transcript.say(f"demo passed: {len(STEPS)} steps in {elapsed:.0f} s")
    elif status == EXIT_INTERRUPTED:
        transcript.say(f"demo interrupted after {elapsed:.0f} s; everything was stopped")
    else:
        transcript.say(f"demo FAILED at step {failed_step}; see above")
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.demo",
        description="Apply the module to a local emulator, hold a scripted WebSocket session "
        "through it, and tear everything down.",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the session, keep the stack up until Ctrl-C and print how to explore it",
    )
    parser.add_argument(
        "--session-store",
        action="store_true",
        help="keep the backend's session state in a local Redis server (the distribution's "
        "redis-server or valkey-server) and show it",
    )
    for name, default in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=None,
            metavar="PORT",
            help=f"default {default} (a free one when taken); 0: any free port",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    requested = {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}
    if any(p is not None and not 0 <= p <= 65535 for p in requested.values()):
        print("error: ports range from 0 to 65535", file=sys.stderr)
        return EXIT_USAGE
    try:
        ports, notes = choose_ports(requested)
    except DemoFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM unwinds like Ctrl-C (teardown runs); SIGINT too when inherited as ignored.
    unwind_on_signals()
    print("wslocal demo: the module applied to a local emulator, one WebSocket session through it")
    print(
        "ports: emulator {emulator}, gateway {gateway} (WebSocket) and {connections} "
        "(@connections), backend {backend}".format(**ports)
    )
    for note in notes:
        print(f"note: {note}")
    sys.stdout.flush()
    return run(ports, keep_running=args.keep_running, session_store=args.session_store)


if __name__ == "__main__":
    sys.exit(main())
