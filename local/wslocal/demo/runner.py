"""The demo from start to end: the stack steps, the session steps in order, the hold of
``--keep-running``, and the teardown, which runs whatever happened before it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Final, NoReturn, TextIO

from wslocal.demo.context import Demo
from wslocal.demo.session_steps import SESSION_STEPS
from wslocal.demo.stack_steps import (
    DemoStack,
    describe,
    exploration_commands,
    start_services,
    teardown,
)
from wslocal.demo.transcript import Transcript
from wslocal.stack import StackConfig, save_logs
from wslocal.stack.interrupts import patient_signals

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "STEPS", "run", "run_session"]

STEPS: Final = (
    "Start the emulator",
    "Apply examples/local with Terraform",
    "Start the backend and the gateway",
    *(session_step.title for session_step in SESSION_STEPS),
    "Tear down",
)
# Where the session steps start in STEPS (1-based).
FIRST_SESSION_STEP: Final = 4
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130


async def run_session(demo: Demo) -> None:
    """The session steps in order, each numbered and reported; the connection a step opened
    is closed at the end, whatever happened."""
    out = demo.transcript
    try:
        for number, session_step in enumerate(SESSION_STEPS, start=FIRST_SESSION_STEP):
            out.begin(number)
            out.ok(await session_step.run(demo))
    finally:
        if demo.client is not None:
            await demo.client.close()


def _hold() -> NoReturn:
    while True:
        time.sleep(1)


def run(
    ports: Mapping[str, int],
    *,
    keep_running: bool = False,
    session_store: bool = False,
    topics: bool = True,
    out: TextIO | None = None,
) -> int:
    """Every step, then the teardown; the exit status. Any failure is the current step's:
    it is reported, the logs are kept, and the teardown still runs."""
    transcript = Transcript(STEPS, out=out)
    started = time.monotonic()

    def emulator_ready() -> None:
        transcript.ok(f"{stack.endpoint_url} (moto + the API Gateway v2 extension)")
        transcript.begin(2)

    stack = DemoStack(_config(ports, transcript, topics), emulator_ready)
    demo = Demo(stack, transcript, ports, session_store=session_store, topics=topics)
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
        start_services(demo)
        transcript.ok()
        asyncio.run(run_session(demo))
        if keep_running:
            transcript.say("")
            transcript.say(exploration_commands(demo))
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
        transcript.fail(describe(err))
        failed_step = transcript.number
        saved = save_logs(stack.workdir)
        if saved is not None:
            transcript.note(f"logs kept in {saved}")
        status = EXIT_FAILED
    finally:
        transcript.open = False
        with patient_signals(lambda: transcript.note("tearing down, please wait")):
            torn_down = teardown(demo)
    if not torn_down and status == EXIT_OK:
        status, failed_step = EXIT_FAILED, len(STEPS)
    _conclude(transcript, status, failed_step, time.monotonic() - started)
    return status


def _config(ports: Mapping[str, int], transcript: Transcript, topics: bool) -> StackConfig:
    return StackConfig(
        emulator_port=ports["emulator"],
        gateway_port=ports["gateway"],
        backend_port=ports["backend"],
        connections_port=ports["connections"],
        # The fan-out part (topics): about 50 s more of apply and destroy, the AWS
        # provider's waits on the queues (examples/local's fanout_enabled).
        variables={"fanout_enabled": topics},
        progress=lambda message: transcript.note(f". {message}"),
    )


def _conclude(transcript: Transcript, status: int, failed_step: int, elapsed: float) -> None:
    if status == EXIT_OK:
        transcript.say(f"demo passed: {len(STEPS)} steps in {elapsed:.0f} s")
    elif status == EXIT_INTERRUPTED:
        transcript.say(f"demo interrupted after {elapsed:.0f} s; everything was stopped")
    else:
        transcript.say(f"demo FAILED at step {failed_step}; see above")
