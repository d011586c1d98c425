"""`make bench-handler`: what the Lambda package costs beyond the work it cannot avoid.

Each figure is a ratio of two medians measured in this run, the compared variants
interleaved call by call (A, B, A, B, ...) so that a noisy machine slows both alike; per
repetition one ratio, and the figure is the median of those ratios (the table shows their
range too: on a shared machine single repetitions stray, the median holds):

- forward: the handler forwarding a message to a loopback backend, over a raw pooled
  urllib3 POST of the same body to the same backend; goal <= 1.10.
- ping: the handler answering `{"type":"ping"}` on a warm container, over a no-op handler
  that parses the body and returns a constant pong (the issue's baseline); goal <= 2.5.
  (Shown for context, no goal: over a no-op that parses the body and returns the same
  timestamped pong as the handler.)
- cold start: a fresh process importing the shipped package and answering a first ping,
  over a fresh process running `import boto3`; goal <= 1.10.
- push: the backend SDK's `Pusher.to_connections` to 1,000 connections, over the same posts
  made one after another (`Pusher.post` in a loop); goal <= 0.2.
- json 128 KB: the handler's parsing and validation of a 128 KB message
  (`handler.parse_message`), over one `json.loads` of it; goal <= 1.5, for records
  (objects, numbers, short strings) and for text (long strings full of escaped quotes,
  backslashes, newlines and escaped surrogate pairs, where `json.loads` itself is fast and
  each linear screen pass weighs more). One check is not in parse_message: a lone
  surrogate escape is refused by the encode of the forwarded body, which the handler
  makes anyway (`json_codec.decode_to_encode`). Shown for context, no goal: rows of arrays
  nested 8 deep, the shape that costs the nesting check most per byte.
- zip: the size of packages/ws_bridge.zip over 150 KB; goal <= 1.0.

It prints a table (median ratio and the range of the per-repetition ratios) and exits 1
when a goal is missed. It is a benchmark, not a test: `make test` does not run it.

    python tools/bench_handler.py [--repetitions 7] [--calls 300] [--push-delay-ms 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wslocal.http_server import LocalServer

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "packages" / "ws_bridge.zip"
ZIP_GOAL_BYTES = 150 * 1024

REPLY = json.dumps({"type": "command_result", "result": {"output": "ok", "exitCode": 0}}).encode()
COMMAND = {"type": "command", "command": "ls -la /home/user/project", "requestId": "r-1"}


def _serve_forever(delay: float, ready: Any) -> None:
    """The loopback backend: `delay` seconds of work per request, then the reply (empty off
    /api/); LocalServer has read the request body before the app runs."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if delay:
            time.sleep(delay)
        body = REPLY if environ["PATH_INFO"].startswith("/api/") else b""
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    server = LocalServer(app, name="bench-backend")
    ready.send(server.port)
    server.serve()


@contextlib.contextmanager
def serve(delay: float = 0.0) -> Iterator[str]:
    """A loopback backend in its own process: its work does not compete with the measured
    code for this interpreter's GIL (in-process, the server's thread took the GIL whenever
    the handler released it, e.g. to write its log line, and billed the handler for it)."""
    context = multiprocessing.get_context("spawn")
    ready, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve_forever, args=(delay, sender), daemon=True)
    process.start()
    try:
        if not ready.poll(30):
            raise RuntimeError("the bench backend did not start")
        yield f"http://127.0.0.1:{ready.recv()}"
    finally:
        process.terminate()
        process.join(5)


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


def forward_and_ping(calls: int, repetitions: int) -> list[Figure]:
    # Over 60 lines: the four measured variants and their baselines share one backend, one
    # imported handler and one interleaving, which splitting would have to pass around.
    import urllib3

    with serve() as url:
        os.environ.update(handler_environment(url))
        from ws_bridge import handler as entry

        body = json.dumps(COMMAND)
        message = event(body)
        ping = event('{"type":"ping"}')
        raw = urllib3.PoolManager(maxsize=4, retries=False)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Connection-Id": "R0oXAdfD0kwCH6w=",
        }
        # The same body and headers as the handler sends: the message with the identity
        # the handler adds from the authorizer context.
        identity = {"connectionId": "R0oXAdfD0kwCH6w=", "sessionId": "lab-1", "userId": "alice"}
        encoded = json.dumps({**COMMAND, **identity}, separators=(",", ":")).encode()
        context = Context()

        def raw_post() -> None:
            response = raw.request(
                "POST", url + "/api/ws/message", body=encoded, headers=headers, retries=False
            )
            response.data  # noqa: B018 - read the reply, as the handler does

        def noop(event_: dict[str, Any]) -> dict[str, Any]:
            # Context: the same reply as the handler's, a pong with the server's time.
            json.loads(event_["body"])
            pong = {"type": "pong", "timestamp": int(time.time() * 1000)}
            return {"statusCode": 200, "body": json.dumps(pong)}

        def bare(event_: dict[str, Any]) -> dict[str, Any]:
            # The goal's baseline (issue #10): parse the body, answer a constant pong.
            json.loads(event_["body"])
            return {"statusCode": 200, "body": '{"type":"pong"}'}

        with quiet_stdout():
            for _ in range(50):  # warm both pools and caches
                entry.handler(message, context)
                raw_post()
            forward = interleave(
                {"handler": lambda: entry.handler(message, context), "raw": raw_post},
                calls,
                repetitions,
            )
            pinging = interleave(
                {
                    "handler": lambda: entry.handler(ping, context),
                    "noop": lambda: noop(ping),
                    "bare": lambda: bare(ping),
                },
                calls * 5,
                repetitions,
            )
    return [
        Figure(
            "forward / raw urllib3 POST",
            1.10,
            ratios(forward, "handler", "raw"),
            f"{statistics.median(flat(forward['handler'])) * 1e6:.0f} us vs "
            f"{statistics.median(flat(forward['raw'])) * 1e6:.0f} us",
        ),
        Figure(
            "ping / no-op pong",
            2.5,
            ratios(pinging, "handler", "bare"),
            f"{statistics.median(flat(pinging['handler'])) * 1e6:.1f} us vs "
            f"{statistics.median(flat(pinging['bare'])) * 1e6:.1f} us",
        ),
        Figure(
            "ping / timestamped no-op pong",
            None,
            ratios(pinging, "handler", "noop"),
            f"context only: vs {statistics.median(flat(pinging['noop'])) * 1e6:.1f} us",
        ),
    ]


def _fill(make: Callable[[int], Any], limit: int = 128 * 1024 - 64) -> str:
    """The largest ``{"type": "command", "rows": [make(0), make(1), ...]}`` within limit."""
    rows: list[Any] = []
    text = ""
    while True:
        rows.append(make(len(rows)))
        candidate = json.dumps({"type": "command", "rows": rows})
        if len(candidate.encode()) > limit:
            return text
        text = candidate


def json_validation(repetitions: int) -> list[Figure]:
    from ws_bridge import handler as entry

    payloads = {
        # nested objects, short strings, integers and floats
        "records": _fill(
            lambda i: {"id": i, "name": f"row-{i}", "tags": ["a", "b"], "score": i / 7}
        ),
        # long strings with escapes, non-ASCII text and escaped surrogate pairs (emoji as
        # Python's json.dumps writes them): the screens' slower paths
        "text": _fill(
            lambda i: {"line": i, "text": f'said "hé" \\ ok\n{i} 😀 ' + "lorem ipsum " * 8}
        ),  # adversarial for the nesting check: rows of arrays nested 8 deep (each pass
        # over the brackets removes little; shown for context, no goal)
        "nested": _fill(lambda i: [[[[[[[[i]]]]]]]]),
    }
    figures = []
    for kind, text in payloads.items():
        big = event(text)
        parsed = entry.parse_message(big)
        assert isinstance(parsed, dict), parsed  # the handler accepts it
        samples = interleave(
            {
                "handler": functools.partial(entry.parse_message, big),
                "loads": functools.partial(json.loads, text),
            },
            10,
            repetitions * 2,
        )
        figures.append(
            Figure(
                f"json 128 KB {kind} / json.loads",
                None if kind == "nested" else 1.5,
                ratios(samples, "handler", "loads"),
                f"{len(text.encode()) // 1024} KB: "
                f"{statistics.median(flat(samples['handler'])) * 1e3:.2f} ms vs "
                f"{statistics.median(flat(samples['loads'])) * 1e3:.2f} ms",
            )
        )
    return figures


def push(repetitions: int, delay_ms: float, count: int = 1000) -> Figure:
    import boto3

    from ws_bridge_backend.push import Pusher
    from ws_bridge_backend.registry import ConnectionRecord as Record
    from ws_bridge_backend.registry import ConnectionRegistry

    with serve(delay_ms / 1000) as url:
        local = boto3.Session(
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - a fake local server
        )
        management = local.client("apigatewaymanagementapi", endpoint_url=f"{url}/prod")
        expires = int(time.time()) + 3600
        connections = [Record(f"c-{i:04d}=", "lab-1", "alice", 0, expires) for i in range(count)]
        data = json.dumps({"type": "notice", "text": "hello"}).encode()
        # The registry is only asked after a 410, which the bench server never answers.
        dynamodb = local.client("dynamodb", endpoint_url=url)
        pusher = Pusher(ConnectionRegistry("bench", dynamodb=dynamodb), management=management)

        def parallel() -> None:
            result = pusher.to_connections(connections, data)
            assert result.sent == count, result

        def sequential() -> None:
            for connection in connections:
                pusher.post(connection, data)

        with quiet_stdout():
            parallel()  # warm the connection pool
            samples = interleave({"parallel": parallel, "sequential": sequential}, 1, repetitions)
    return Figure(
        f"push {count} / sequential",
        0.2,
        ratios(samples, "parallel", "sequential"),
        f"{statistics.median(flat(samples['parallel'])):.2f} s vs "
        f"{statistics.median(flat(samples['sequential'])):.2f} s, @connections {delay_ms:g} ms",
    )


def cold_start(repetitions: int) -> Figure:
    ping = json.dumps(event('{"type":"ping"}'))
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as task_root, serve() as url:
        with zipfile.ZipFile(PACKAGE) as archive:
            archive.extractall(task_root)
        env = {**os.environ, **handler_environment(url)}
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # /var/task is read-only on Lambda
        env["PYTHONPATH"] = task_root
        handler_code = (
            "import json, sys\n"
            "from ws_bridge import handler\n"
            "class C:\n"
            "    aws_request_id = 'cold'\n"
            "    def get_remaining_time_in_millis(self): return 20000\n"
            f"handler.handler(json.loads({ping!r}), C())\n"
        )
        programs = {"handler": handler_code, "boto3": "import boto3\n"}
        samples: dict[str, list[float]] = {name: [] for name in programs}
        runs = max(10, repetitions * 3)
        for _ in range(runs):
            for name, code in programs.items():
                started = time.perf_counter()
                subprocess.run(  # noqa: S603 - this interpreter, our code
                    [sys.executable, "-c", code],
                    env=env,
                    cwd=task_root,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                samples[name].append(time.perf_counter() - started)
    per_rep = [
        statistics.median(samples["handler"][i : i + 3])
        / statistics.median(samples["boto3"][i : i + 3])
        for i in range(0, runs - 2, 3)
    ]
    return Figure(
        "cold start / import boto3",
        1.10,
        per_rep,
        f"{statistics.median(samples['handler']) * 1000:.0f} ms vs "
        f"{statistics.median(samples['boto3']) * 1000:.0f} ms",
    )


def zip_size() -> Figure:
    size = PACKAGE.stat().st_size
    return Figure("zip / 150 KB", 1.0, [size / ZIP_GOAL_BYTES], f"{size / 1024:.1f} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/bench_handler.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300, help="calls per variant and repetition")
    parser.add_argument("--push-delay-ms", type=float, default=5.0, help="@connections latency")
    args = parser.parse_args(argv)

    figures = [
        *forward_and_ping(args.calls, args.repetitions),
        cold_start(args.repetitions),
        push(max(3, args.repetitions // 2), args.push_delay_ms),
        *json_validation(args.repetitions),
        zip_size(),
    ]
    out = io.StringIO()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        file=out,
    )
    print(f"{'figure':<32} {'goal':>6} {'median':>7} {'range':>15}  {'':4} detail", file=out)
    print("-" * 100, file=out)
    for figure in figures:
        spread = f"{min(figure.ratios):.2f}-{max(figure.ratios):.2f}"
        verdict = "-" if figure.goal is None else "ok" if figure.met else "MISS"
        goal = "-" if figure.goal is None else f"{figure.goal:.2f}"
        print(
            f"{figure.name:<32} {goal:>6} {figure.median:>7.2f} {spread:>15}  "
            f"{verdict:<4} {figure.detail}",
            file=out,
        )
    goals = [figure for figure in figures if figure.goal is not None]
    missed = [figure.name for figure in goals if not figure.met]
    print(
        f"\n{len(goals) - len(missed)} of {len(goals)} goals met (each figure: the median of "
        "the per-repetition ratios; range: the lowest and highest of them)",
        file=out,
    )
    sys.stdout.write(out.getvalue())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
