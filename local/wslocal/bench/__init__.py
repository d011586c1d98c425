"""Load through the local stack: many concurrent connections, every reply accounted for.

``python -m wslocal.bench`` (``make bench``) starts its own stack (emulator, Terraform apply
of examples/local, backend and gateway on free ports of 127.0.0.1), opens ``--connections``
WebSocket connections at once and sends ``--messages`` messages on each, then reports:

* replies received exactly once, lost, duplicated, and error replies;
* the records stored after the connections opened, and those left after every connection
  closed (polled for a bounded time: ``$disconnect`` deletes them);
* round-trip latency p50/p99 and throughput.

Traffic is closed-loop: each connection has one message in flight and sends the next when the
reply arrived (or after ``--reply-timeout``), with at most ``--in-flight`` messages in flight
across all connections, so the latency is a round trip under the load of the others. Each
``command`` message carries a unique id (``{"type":"command","command":"<connection>-<n>"}``),
which the reference backend echoes, so every reply is matched to its message.

Two baselines are measured in the same run, with the same traffic: the ``ping`` route, which
the connection handler answers without the backend (gateway + Lambda worker + handler), and a
bare ``websockets`` echo server in another process (the client and the loopback alone).
The results are printed as a table, with the latencies also as ratios to the baselines.

Exit status: 0 when every reply arrived exactly once, none was an error and no record was
left; 1 otherwise; 2 when the stack could not be started. Everything is bounded in time
(``--max-seconds``) and binds 127.0.0.1 only.

One module per job: ``load`` (opening connections, the closed-loop traffic, every reply
matched, the records polled), ``echo`` (the bare ``websockets`` baseline in its own
process), ``report`` (the results and their table), ``cli`` (the flags, the stack, the run).
"""

from __future__ import annotations

from wslocal.bench.cli import main
from wslocal.bench.report import PhaseResult

__all__ = ["PhaseResult", "main"]
