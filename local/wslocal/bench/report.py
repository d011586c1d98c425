"""The results of a load run and the table that reports them."""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection

__all__ = ["OpenResult", "PhaseResult", "Report", "render"]


@dataclass
class PhaseResult:
    """One phase: `expected` messages sent, how their replies came back."""

    name: str
    expected: int
    exactly_once: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.exactly_once == self.expected
            and self.lost == 0
            and self.duplicated == 0
            and self.errors == 0
        )

    def percentile(self, fraction: float) -> float:
        """The latency (ms) below which `fraction` of the round trips fall."""
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=1000, method="inclusive")
        return cuts[max(0, min(len(cuts) - 1, round(fraction * 1000) - 1))] * 1000

    @property
    def mean(self) -> float:
        """The mean latency (ms). Closed loop, it is the connections over the throughput
        (Little's law), whatever order the messages are served in; the percentiles show
        that order (served first come, first served, p50 and p99 sit close to the mean)."""
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class OpenResult:
    connections: list[ClientConnection]
    refused: Counter[str]
    seconds: float


@dataclass
class Report:
    connections: int
    messages: int
    workers: int
    in_flight: int = 0  # 0: one per connection
    opened: OpenResult | None = None
    stored: int = 0
    phases: list[PhaseResult] = field(default_factory=list)
    left: int | None = None
    left_after_seconds: float = 0.0
    echo_refused: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return (
            self.opened is not None
            and not self.opened.refused
            and not self.echo_refused
            and self.stored == self.connections
            and all(phase.ok for phase in self.phases)
            and self.left == 0
        )


def _ms(value: float) -> str:
    return f"{value:8.1f}"


def render(report: Report, elapsed: float) -> str:
    lines = [
        f"wslocal.bench: {report.connections} connections x {report.messages} messages, "
        "closed loop (one message in flight per connection, "
        f"{report.in_flight or report.connections} in all)",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"gateway workers per function: {report.workers}",
        "",
    ]
    opened = report.opened
    if opened is not None:
        count = len(opened.connections)
        refused = ", ".join(f"{n} {why}" for why, n in sorted(opened.refused.items())) or "none"
        lines += [
            f"connect: {count} opened in {opened.seconds:.1f} s "
            f"({count / opened.seconds if opened.seconds else 0:.0f}/s), refused: {refused}",
            f"records stored after connect: {report.stored} (want {report.connections})",
            "",
        ]
    header = (
        f"{'phase':<24}{'sent':>7}{'exactly once':>14}{'lost':>6}{'dup':>5}{'errors':>8}"
        f"{'msg/s':>8}{'mean ms':>9}{'p50 ms':>9}{'p99 ms':>9}"
    )
    lines += [header, "-" * len(header)]
    for phase in report.phases:
        lines.append(
            f"{phase.name:<24}{phase.expected:>7}{phase.exactly_once:>14}{phase.lost:>6}"
            f"{phase.duplicated:>5}{phase.errors:>8}{phase.rate:>8.0f}{_ms(phase.mean):>9}"
            f"{_ms(phase.percentile(0.50)):>9}{_ms(phase.percentile(0.99)):>9}"
        )
    by_name = {phase.name.split()[0]: phase for phase in report.phases}
    command = by_name.get("command")
    if command is not None and command.latencies:
        lines.append("")
        for baseline in ("ping", "echo"):
            base = by_name.get(baseline)
            if base is not None and base.latencies:
                p50 = command.percentile(0.5) / base.percentile(0.5)
                p99 = command.percentile(0.99) / base.percentile(0.99)
                lines.append(
                    f"command vs {baseline}: mean x{command.mean / base.mean:.1f}, "
                    f"p50 x{p50:.1f}, p99 x{p99:.1f}, "
                    f"throughput x{command.rate / base.rate:.2f}"
                )
    lines.append("")
    if report.left is not None:
        lines.append(
            f"records left after every connection closed: {report.left} "
            f"(polled {report.left_after_seconds:.1f} s)"
        )
    lines += [
        f"total time: {elapsed:.0f} s",
        f"result: {'OK' if report.ok else 'FAILED'}",
    ]
    return "\n".join(lines)
