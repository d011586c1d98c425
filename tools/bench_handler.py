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
  over a fresh process running `import boto3`; goal <= 1.10. And the authorizer's: a fresh
  process deciding a first `$connect` (its key read from a stub Secrets Manager), over
  `import boto3` and one `GetSecretValue`; goal <= 1.10. Both as on Lambda, with only the
  runtime's packages, and in CPU time (handler_bench.cold_start).
- push: the backend SDK's `Pusher.to_connections` to 1,000 connections, 32 in flight, against
  a stub `@connections` answering in 10 ms, over its concurrency floor (1,000 / 32 x 10 ms);
  goal <= 1.5. For context, no goal: the same push through a boto3 client
  (handler_bench.push).
- json 128 KB: the handler's parsing and validation of a 128 KB message
  (`handler.parse_message`), over one `json.loads` of it; goal <= 1.5, for records
  (objects, numbers, short strings) and for text (long strings full of escaped quotes,
  backslashes, newlines and escaped surrogate pairs, where `json.loads` itself is fast and
  each linear screen pass weighs more). One check is not in parse_message: a lone
  surrogate escape is refused by the encode of the forwarded body, which the handler
  makes anyway (`json_codec.decode_to_encode`). Shown for context, no goal: rows of arrays
  nested 8 deep, the shape that costs the nesting check most per byte.
- zip: the size of packages/ws_bridge.zip over 256 KB; goal <= 1.0. (150 KB until the
  zip held four functions and bytecode for everything their cold starts import: the cold
  start is the figure every connect burst pays, the zip's size a few ms of its download.)

It prints a table (median ratio and the range of the per-repetition ratios) and exits 1
when a goal is missed. It is a benchmark, not a test: `make test` does not run it.

    python tools/bench_handler.py [--repetitions 7] [--calls 300] [--push-delay-ms 10]
                                  [--only forward,cold,push,json,zip]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from handler_bench.cold_start import PACKAGE, cold_start_figures
from handler_bench.measure import (
    COMMAND,
    Context,
    Figure,
    event,
    flat,
    handler_environment,
    interleave,
    quiet_stdout,
    ratios,
    serve,
)
from handler_bench.push import push_figures

ZIP_GOAL_BYTES = 256 * 1024
GROUPS = ("forward", "cold", "push", "json", "zip")


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


def zip_size() -> Figure:
    size = PACKAGE.stat().st_size
    return Figure("zip / 256 KB", 1.0, [size / ZIP_GOAL_BYTES], f"{size / 1024:.1f} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/bench_handler.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300, help="calls per variant and repetition")
    parser.add_argument(
        "--push-delay-ms", type=float, default=10.0, help="the stub @connections latency"
    )
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"the groups of figures to measure, comma-separated (of {','.join(GROUPS)})",
    )
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    if not wanted <= set(GROUPS):
        parser.error(f"--only: unknown {', '.join(sorted(wanted - set(GROUPS)))}")

    measured: dict[str, Callable[[], list[Figure]]] = {
        "forward": lambda: forward_and_ping(args.calls, args.repetitions),
        "cold": lambda: cold_start_figures(args.repetitions),
        "push": lambda: push_figures(max(3, args.repetitions // 2), args.push_delay_ms),
        "json": lambda: json_validation(args.repetitions),
        "zip": lambda: [zip_size()],
    }
    figures = [figure for group in GROUPS if group in wanted for figure in measured[group]()]
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
