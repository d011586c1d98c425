"""What every figure of `make bench-handler` shares: the loopback server in its own
process, the interleaved timing, the ratios, the events and environment the handler reads."""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from wslocal.http_server import LocalServer

REPLY = json.dumps({"type": "command_result", "result": {"output": "ok", "exitCode": 0}}).encode()
COMMAND = {"type": "command", "command": "ls -la /home/user/project", "requestId": "r-1"}


def backend(delay: float) -> Any:
    """The loopback backend (and stub ``@connections``): `delay` seconds of work per request,
    then the reply (empty off /api/); LocalServer has read the request body before the app
    runs."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if delay:
            time.sleep(delay)
        body = REPLY if environ["PATH_INFO"].startswith("/api/") else b""
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    return app


def _serve_forever(make_app: Callable[[float], Any], delay: float, ready: Any) -> None:
    server = LocalServer(make_app(delay), name="bench-backend")
    ready.send(server.port)
    server.serve()


@contextlib.contextmanager
def spawned(target: Callable[..., None], *args: Any) -> Iterator[str]:
    """``target(*args, ready)`` in a process of its own, which sends its port on ``ready``
    once it serves; yields ``http://127.0.0.1:<port>`` and stops the process after."""
    context = multiprocessing.get_context("spawn")
    ready, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sender), daemon=True)
    process.start()
    try:
        if not ready.poll(30):
            raise RuntimeError(f"{target.__name__} did not start serving")
        yield f"http://127.0.0.1:{ready.recv()}"
    finally:
        process.terminate()
        process.join(5)


@contextlib.contextmanager
def serve(delay: float = 0.0, make_app: Callable[[float], Any] = backend) -> Iterator[str]:
    """A loopback backend in its own process: its work does not compete with the measured
    code for this interpreter's GIL (in-process, the server's thread took the GIL whenever
    the handler released it, e.g. to write its log line, and billed the handler for it)."""
    with spawned(_serve_forever, make_app, delay) as url:
        yield url


@dataclass
class Figure:
    name: str
    goal: float | None  # None: shown for context, not a goal
    ratios: list[float]  # one per repetition
    detail: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        return self.goal is None or self.median <= self.goal


class Context:
    """The part of Lambda's context object the handler reads."""

    aws_request_id = "bench-request"
    function_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def event(body: str, route: str = "$default") -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": route,
            "eventType": "MESSAGE",
            "connectionId": "R0oXAdfD0kwCH6w=",
            "requestId": "Rk1aZFqKDoEFcWx=",
            "messageId": "Rk1aZcJjDoEFbJw=",
            "connectedAt": int(time.time() * 1000),
            "requestTimeEpoch": int(time.time() * 1000),
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "stage": "prod",
            "apiId": "abc123",
            "authorizer": {
                "userId": "alice",
                "sessionId": "lab-1",
                "sessionSource": "token",
                "exp": str(int(time.time()) + 3600),
                "principalId": "alice",
            },
        },
        "body": body,
        "isBase64Encoded": False,
    }


def interleave(
    variants: dict[str, Callable[[], object]], calls: int, repetitions: int
) -> dict[str, list[list[float]]]:
    """Per variant, per repetition: the duration of each call (seconds).

    The variants alternate call by call (A, B, A, B, ...), so a burst of load from the other
    users of a shared machine slows each variant alike; the ratios are taken per repetition
    and the figure is their median. The garbage collector is paused while timing (its
    pauses land on whichever call happens to trigger them).
    """
    samples: dict[str, list[list[float]]] = {name: [] for name in variants}
    order = list(variants.items())
    clock = time.perf_counter
    for repetition in range(repetitions):
        times: dict[str, list[float]] = {name: [] for name in variants}
        rotated = order[repetition % len(order) :] + order[: repetition % len(order)]
        gc.collect()
        gc.disable()
        try:
            for _ in range(calls):
                for name, call in rotated:
                    started = clock()
                    call()
                    times[name].append(clock() - started)
        finally:
            gc.enable()
        for name in variants:
            samples[name].append(times[name])
    return samples


def flat(samples: list[list[float]]) -> list[float]:
    return [value for rep in samples for value in rep]


def ratios(samples: dict[str, list[list[float]]], top: str, bottom: str) -> list[float]:
    return [
        statistics.median(a) / statistics.median(b)
        for a, b in zip(samples[top], samples[bottom], strict=True)
    ]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """The handler logs to stdout (CloudWatch on Lambda): written, as there, but not shown."""
    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


def handler_environment(backend_url: str) -> dict[str, str]:
    return {
        "CONNECTIONS_TABLE": "bench-connections",
        "BACKEND_URL": backend_url,
        "LOG_LEVEL": "INFO",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": "bench-connection-handler",
    }
