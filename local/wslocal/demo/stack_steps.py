"""The steps around the session: the stack that reports when the emulator is up (steps 1
and 2), the services (step 3), the commands printed for ``--keep-running``, and the
teardown (the last step)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable

from wslocal.demo.context import SESSION, USER, Demo, DemoFailed, check
from wslocal.demo.topic_step import TOPIC_SESSIONS
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

__all__ = ["DemoStack", "describe", "exploration_commands", "start_services", "teardown"]


class DemoStack(Stack):
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


def start_services(demo: Demo) -> None:
    """The reference backend (over a local Redis with ``--session-store``) and the gateway,
    each checked to serve."""
    stack = demo.stack
    sessions = (f"{SESSION}:{USER}", f"{SESSION}:bob", *(TOPIC_SESSIONS if demo.topics else ()))
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
    if demo.topics:
        raw = stack.outputs.raw
        demo.transcript.note(
            f"topics       subscriptions {raw.get('subscriptions_table_name')}, "
            f"queue {raw.get('fanout_queue_url')}"
        )
    signing = stack.outputs.backend_signing_secret_arn
    demo.transcript.note(
        f"signing      handler->backend requests signed with {signing}"
        if signing
        else "signing      off: examples/local outputs no backend_signing_secret_arn"
    )


def exploration_commands(demo: Demo) -> str:
    """What ``--keep-running`` prints: commands that work from another shell."""
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


def describe(error: BaseException) -> str:
    """The failure as the transcript shows it: our own errors by their message, anything
    else with its type."""
    if isinstance(error, DemoFailed | StackError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def teardown(demo: Demo) -> bool:
    """The last step: stop the services, terraform destroy, stop the emulator. Whether it
    passed."""
    out = demo.transcript
    stack = demo.stack
    out.begin(len(out.steps))
    processes: list[ManagedProcess] = [*stack.services.values()]
    if stack.emulator is not None:
        processes.append(stack.emulator)
    applied = isinstance(stack, DemoStack) and stack.apply_attempted
    try:
        stack.close()
        running = [p.name for p in processes if p.running()]
        check(not running, f"still running: {', '.join(running)}")
        listening = [f"{n} {p}" for n, p in demo.ports.items() if port_accepts(p)]
        check(not listening, f"ports still accepting: {', '.join(listening)}")
    except Exception as err:  # noqa: BLE001 - reported as the teardown's failure
        out.fail(describe(err))
        return False
    stopped = ", ".join(p.name for p in processes) or "nothing was running"
    out.ok(("terraform destroy; " if applied else "") + f"stopped: {stopped}")
    return True
