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
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final, NoReturn, TextIO

from websockets.exceptions import ConnectionClosed

from wslocal.client import HandshakeRejected, WsClient
from wslocal.devtoken import mint_token
from wslocal.stack import (
    FAKE_CREDENTIALS,
    REPO_ROOT,
    ManagedProcess,
    Stack,
    StackConfig,
    StackError,
    backend_service,
    free_port,
    gateway_service,
    port_accepts,
)

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


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not port_accepts(port)


def choose_ports(requested: Mapping[str, int | None]) -> tuple[dict[str, int], list[str]]:
    """The port of each service and notes about the ones that differ from the defaults.

    None: the documented default, or a free port (noted) when it is taken; 0: a free port;
    any other number: that port, which must be free (``DemoFailed`` otherwise).
    """
    chosen: dict[str, int] = {}
    notes: list[str] = []

    def fresh() -> int:
        while True:
            port = free_port()
            if port not in chosen.values() and port not in DEFAULT_PORTS.values():
                return port

    for name, default in DEFAULT_PORTS.items():
        asked = requested.get(name)
        if asked is None:
            if default in chosen.values() or not port_is_free(default):
                chosen[name] = fresh()
                notes.append(f"port {default} ({name}) is taken: using {chosen[name]} instead")
            else:
                chosen[name] = default
        elif asked == 0:
            chosen[name] = fresh()
        else:
            if asked in chosen.values() or not port_is_free(asked):
                raise DemoFailed(f"port {asked} ({name}) is taken on 127.0.0.1")
            chosen[name] = asked
    return chosen, notes


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
    out.ok("$disconnect removed the record and notified the backend")


# ---------------------------------------------------------------------------------------
# Steps 1-3, the hold, teardown
# ---------------------------------------------------------------------------------------


def _services_ready(demo: Demo) -> None:
    stack = demo.stack
    for service in (backend_service((f"{SESSION}:{USER}", f"{SESSION}:bob")), gateway_service()):
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


def _save_logs(stack: Stack) -> Path | None:
    """Copy the stack's logs out of its working directory (removed on close)."""
    if stack.workdir is None or not stack.workdir.is_dir():
        return None
    logs = sorted(stack.workdir.glob("*.log"))
    if not logs:
        return None
    target = Path(tempfile.mkdtemp(prefix="wslocal-demo-logs-"))
    for log in logs:
        shutil.copy2(log, target / log.name)
    return target


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


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _teardown_signals(out: Transcript) -> Iterator[None]:
    """While tearing down, Ctrl-C and SIGTERM only say to wait (every wait is bounded)."""

    def patience(signum: int, frame: FrameType | None) -> None:
        out.note("tearing down, please wait")

    previous = {s: signal.signal(s, patience) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run(ports: Mapping[str, int], *, keep_running: bool = False, out: TextIO | None = None) -> int:
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
    demo = Demo(stack, transcript, ports)
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
        saved = _save_logs(stack)
        if saved is not None:
            transcript.note(f"logs kept in {saved}")
        status = EXIT_FAILED
    finally:
        transcript.open = False
        with _teardown_signals(transcript):
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
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    print("wslocal demo: the module applied to a local emulator, one WebSocket session through it")
    print(
        "ports: emulator {emulator}, gateway {gateway} (WebSocket) and {connections} "
        "(@connections), backend {backend}".format(**ports)
    )
    for note in notes:
        print(f"note: {note}")
    sys.stdout.flush()
    return run(ports, keep_running=args.keep_running)


if __name__ == "__main__":
    sys.exit(main())
