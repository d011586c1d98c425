"""`make bench-replay`: the memory replay store under a steady load, in simulated time.

Drives 10 minutes at 300 signed requests a second (every connect, message and disconnect of
a busy handler) into one ``RequestVerifier`` with the in-memory replay store, on a fake
clock, so it runs in seconds. Each minute it prints the nonces held and the memory allocated
since the start (tracemalloc). It exits 1 when any request is refused (there is no count
that could fill up: ``replay_cache_full`` is gone) or when memory keeps growing once a whole
window of nonces is held (after the first 2 x window, it must stay within 10 %).

    python tools/bench_replay.py [--minutes 10] [--rate 300] [--window 300]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sdk" / "python" / "src"))

from ws_bridge_backend.replay import MemoryReplayStore  # noqa: E402
from ws_bridge_backend.signing import sign_request  # noqa: E402
from ws_bridge_backend.verifier import RequestVerifier, SignatureError  # noqa: E402

KEY = b"bench-replay-key-0123456789-0123456789"
START = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(START)

    def __call__(self) -> float:
        return self.now


def run(minutes: int, rate: int, window: int) -> int:
    clock = Clock()
    store = MemoryReplayStore()
    verifier = RequestVerifier([KEY], replay=store, window_seconds=window, clock=clock)
    body = b'{"type":"command","command":"ls"}'
    headers = {"X-Connection-Id": "Kx1="}
    refused: dict[str, int] = {}
    samples: list[tuple[int, int, int]] = []
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    print(f"{minutes} min at {rate} signed requests/s, window {window} s, one verifier")
    print(f"{'minute':>6} {'nonces':>9} {'memory MB':>10} {'bytes/nonce':>12}")
    for second in range(minutes * 60):
        clock.now = START + second
        for n in range(rate):
            # Spread over the second, with the skew a handler's clock may have.
            signed_at = clock.now - (n % 7)
            nonce = f"{second:016x}{n:016x}"
            signed = sign_request(
                KEY, "POST", "/api/ws/message", body, headers=headers, now=signed_at, nonce=nonce
            )
            try:
                verifier.verify("POST", "/api/ws/message", {**headers, **signed}, body)
            except SignatureError as exc:
                refused[exc.reason] = refused.get(exc.reason, 0) + 1
        if (second + 1) % 60 == 0:
            memory = tracemalloc.get_traced_memory()[0] - base
            samples.append(((second + 1) // 60, len(store), memory))
            per = memory / len(store) if len(store) else 0
            print(f"{(second + 1) // 60:>6} {len(store):>9,} {memory / 1e6:>10.1f} {per:>12.0f}")
    tracemalloc.stop()
    print(f"refused: {refused or 'none'}")
    steady = [memory for minute, _, memory in samples if minute * 60 >= 2 * window]
    growing = bool(steady) and max(steady) > 1.1 * min(steady)
    if growing:
        print("memory kept growing once a whole window was held", file=sys.stderr)
    return 1 if refused or growing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=int, default=300, help="signed requests per second")
    parser.add_argument("--window", type=int, default=300, help="the verifier's window (s)")
    args = parser.parse_args(argv)
    return run(args.minutes, args.rate, args.window)


if __name__ == "__main__":
    raise SystemExit(main())
