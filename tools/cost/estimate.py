"""`make cost`: the monthly AWS bill of the module, per service, from published prices.

    python tools/cost/estimate.py --connections 2000 --messages-per-minute 2 --message-kb 1
    python tools/cost/estimate.py --users 10000          # the lab-terminal profile below
    python tools/cost/estimate.py --markdown              # docs/cost.md's table

The prices are in ``tools/cost/prices.json``, with the date they were read and where; the
model below says what each usage costs, one line per meter. It is an estimate of the meters
the module itself drives (API Gateway, both functions, the registry, logs, metrics, secrets,
the optional parts), not of your backend, and it leaves out free tiers and data transfer
inside AWS.

Usage is per month of 30.42 days (43,800 minutes). ``--users`` derives connections and
traffic from a profile of a lab terminal: each user is connected 3 hours on 21 working days
(3,780 connection-minutes a month), sends 2 messages a minute, receives 10 pushes a minute
(terminal output) and a broadcast an hour, messages of 1 KB, connections of an hour.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

PRICES_FILE = Path(__file__).resolve().parent / "prices.json"
MINUTES_PER_MONTH = 43_800  # 365 / 12 days
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60
DOC_USERS = (100, 10_000, 1_000_000)
PROFILE_MINUTES_PER_USER = 3 * 60 * 21

# What one event costs in bytes, milliseconds and units: measured on the local stack or
# taken from the module's defaults, rounded up.
RECORD_BYTES = 300  # a connection record with its index copies' keys
INDEXES = 2  # sessionId-index and userId-index: each write of a record writes both
# Each function's memory_size default (a test reads them from the Terraform): Lambda bills
# GB-seconds, memory times duration.
FUNCTION_MB = {
    "connection handler": 256,  # connection_handler.memory_size
    "authorizer": 256,  # authorizer.memory_size
    "fan-out worker": 512,  # fanout.memory_size
    "open-connections gauge": 256,  # modules/fanout/gauge.tf
}
AUTHORIZER_MS = 15  # HS256 with a warm key cache
HANDLER_OVERHEAD_MS = 5  # parse, sign, log, answer
REGISTRY_MS = 10  # one PutItem or DeleteItem
POST_MS = 20  # one @connections POST from a worker
POSTS_IN_FLIGHT = 32
WORKER_OVERHEAD_MS = 20
GAUGE_PAGE_MS = 40  # one 1 MB page of a parallel scan
LOG_BYTES_PER_INVOCATION = 1_400  # the platform's START/END/REPORT, our JSON line and EMF line
ACCESS_LOG_BYTES = 400  # one API Gateway access log line (connect, message, disconnect)
LOG_COMPRESSION = 0.15  # archived size over ingested size
HANDLER_METRICS = 24  # EMF metrics of both functions with their Reason/Code dimensions
MONITORING_ALARMS = 11
SECRETS = 2  # the JWT key and the request-signing key
KEY_REFRESH_PER_HOUR = 12  # each warm container re-reads its key every 5 minutes
ESM_IDLE_RECEIVES = 5 * 3 * MINUTES_PER_MONTH  # 5 pollers, a 20 s long poll each
XRAY_RESERVOIR = SECONDS_PER_MONTH  # the default sampling rule: 1 a second, then 5 %
XRAY_RATE = 0.05
SQS_CHUNK_BYTES = 64 * 1024
SESSION_STORE_NODES = 2


@dataclass(frozen=True)
class Usage:
    connections: float  # connected on average over the month
    connection_minutes: float
    session_minutes: float = 60.0
    messages_per_minute: float = 1.0  # client messages per connection-minute
    message_kb: float = 1.0
    pushes_per_minute: float = 2.0  # backend pushes per connection-minute
    broadcasts_per_hour: float = 0.0
    broadcast_size: float = 0.0  # recipients of one broadcast
    fanout_threshold: int = 100  # larger broadcasts go through the SQS fan-out
    fanout_batch: int = 100  # connection ids per fan-out message
    backend_ms: float = 50.0
    architecture: str = "x86_64"
    tracing: bool = True
    session_store: bool = False
    monitoring: bool = False
    gauge_interval_minutes: float = 1.0  # 0: no open-connections gauge
    customer_managed_keys: int = 0
    log_retention_days: int = 365


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    price_key: str
    per: float = 1.0  # the price is per this many units

    def usd(self, prices: dict[str, float]) -> float:
        return self.quantity / self.per * prices[self.price_key]


def load_prices(path: Path = PRICES_FILE) -> tuple[dict[str, float], str]:
    document = json.loads(path.read_text())
    return {key: float(entry["usd"]) for key, entry in document["prices"].items()}, document[
        "read_on"
    ]


def users_profile(users: int) -> Usage:
    minutes = users * PROFILE_MINUTES_PER_USER
    connections = minutes / MINUTES_PER_MONTH
    return Usage(
        connections=connections,
        connection_minutes=minutes,
        messages_per_minute=2.0,
        pushes_per_minute=10.0,
        broadcasts_per_hour=1.0,
        broadcast_size=connections,
        session_store=True,
        monitoring=True,
    )


def _units(message_kb: float) -> int:
    return max(1, math.ceil(message_kb / 32))


def _gb_seconds(invocations: float, milliseconds: float, megabytes: int) -> float:
    return invocations * milliseconds / 1000 * megabytes / 1024


def _containers(invocations: float, milliseconds: float) -> float:
    """Warm containers of a function: the mean concurrency, at least one."""
    return max(1.0, invocations / SECONDS_PER_MONTH * milliseconds / 1000)


def _api_gateway(u: Usage, sent: float, received: float, pings: float) -> list[Line]:
    units = _units(u.message_kb)
    messages = (sent + received) * units + 2 * pings
    first = min(messages, 1e9)
    lines = [
        Line("API Gateway", "connection-minutes", u.connection_minutes,
             "apigateway_connection_minutes_per_million", 1e6),
        Line("API Gateway", "messages (first billion)", first,
             "apigateway_messages_per_million", 1e6),
    ]  # fmt: skip
    if messages > first:
        lines.append(
            Line("API Gateway", "messages (beyond a billion)", messages - first,
                 "apigateway_messages_over_billion_per_million", 1e6)
        )  # fmt: skip
    return lines


@dataclass(frozen=True)
class Traffic:
    """A month of ``Usage`` in events: what each meter counts."""

    connects: float
    client: float  # client messages, each answered
    pings: float
    pushes: float
    broadcasts: float
    deliveries: float  # broadcast posts
    jobs: float  # fan-out messages
    scans: float  # gauge scans

    @property
    def sent(self) -> float:
        return self.client + self.pushes + self.deliveries  # replies, pushes, broadcasts

    @classmethod
    def of(cls, u: Usage) -> Traffic:
        broadcasts = u.broadcasts_per_hour * MINUTES_PER_MONTH / 60
        fanned = u.broadcast_size > u.fanout_threshold
        return cls(
            connects=u.connection_minutes / u.session_minutes,
            client=u.connection_minutes * u.messages_per_minute,
            pings=u.connection_minutes * 0.2 if u.messages_per_minute < 0.2 else 0.0,
            pushes=u.connection_minutes * u.pushes_per_minute,
            broadcasts=broadcasts,
            deliveries=broadcasts * u.broadcast_size,
            jobs=broadcasts * math.ceil(u.broadcast_size / u.fanout_batch) if fanned else 0.0,
            scans=MINUTES_PER_MONTH / u.gauge_interval_minutes if u.gauge_interval_minutes else 0,
        )


def _invocations(u: Usage, t: Traffic) -> dict[str, tuple[float, float]]:
    """Each function's invocations and mean milliseconds."""
    handler_calls = t.client + t.pings + 2 * t.connects
    handler_ms = (
        (t.client + t.pings) * (u.backend_ms + HANDLER_OVERHEAD_MS)
        + t.connects * (u.backend_ms + REGISTRY_MS + HANDLER_OVERHEAD_MS)
        + t.connects * (u.backend_ms / 2 + REGISTRY_MS)
    ) / max(handler_calls, 1)
    worker_ms = math.ceil(u.fanout_batch / POSTS_IN_FLIGHT) * POST_MS + WORKER_OVERHEAD_MS
    pages = max(1, math.ceil(u.connections * RECORD_BYTES / 1e6))
    return {
        "connection handler": (handler_calls, handler_ms),
        "authorizer": (t.connects, AUTHORIZER_MS),
        "fan-out worker": (t.jobs, worker_ms),
        "open-connections gauge": (t.scans, pages * GAUGE_PAGE_MS),
    }


def _lambda(u: Usage, invocations: dict[str, tuple[float, float]]) -> list[Line]:
    lines = []
    for name, (calls, ms) in invocations.items():
        if calls:
            lines.append(Line("Lambda", f"{name} invocations", calls,
                              "lambda_requests_per_million", 1e6))  # fmt: skip
            gb_seconds = _gb_seconds(calls, ms, FUNCTION_MB[name])
            lines.append(Line("Lambda", f"{name} GB-seconds", gb_seconds,
                              f"lambda_gb_second_{u.architecture}"))  # fmt: skip
    return lines


def _registry_writes(u: Usage, t: Traffic) -> float:
    writes = t.connects * 2 * (1 + INDEXES)  # put and delete, in the table and both indexes
    if u.broadcasts_per_hour:
        writes += t.connects * 2  # a topic subscription, and its delete
    return writes


def _dynamodb(u: Usage, t: Traffic) -> list[Line]:
    reads = t.pushes * 0.5 + t.broadcasts * max(1.0, u.broadcast_size * RECORD_BYTES / 4096) * 0.5
    reads += t.scans * max(1.0, u.connections * RECORD_BYTES / 4096) * 0.5
    return [
        Line("DynamoDB", "write request units", _registry_writes(u, t),
             "dynamodb_write_request_units_per_million", 1e6),
        Line("DynamoDB", "read request units", reads,
             "dynamodb_read_request_units_per_million", 1e6),
    ]  # fmt: skip


def _sqs(u: Usage, t: Traffic) -> list[Line]:
    if not t.jobs:
        return []
    job_bytes = u.message_kb * 1024 + u.fanout_batch * 24
    chunks = math.ceil(10 * job_bytes / SQS_CHUNK_BYTES)  # per batch of 10 messages
    requests = t.jobs / 10 * (chunks + 2) + ESM_IDLE_RECEIVES  # send, receive, delete
    return [Line("SQS", "requests", requests, "sqs_requests_per_million", 1e6)]


def _cloudwatch(u: Usage, t: Traffic, invocations: dict[str, tuple[float, float]]) -> list[Line]:
    log_gb = (
        sum(calls for calls, _ in invocations.values()) * LOG_BYTES_PER_INVOCATION
        + (t.client + t.pings + 2 * t.connects) * ACCESS_LOG_BYTES
    ) / 1e9
    lines = [
        Line("CloudWatch", "log ingestion (GB)", log_gb, "cloudwatch_logs_ingestion_gb"),
        Line("CloudWatch", "log storage (GB-months)",
             log_gb * LOG_COMPRESSION * u.log_retention_days / 30.4,
             "cloudwatch_logs_storage_gb_month"),
        Line("CloudWatch", "custom metrics",
             HANDLER_METRICS + (1 if u.gauge_interval_minutes else 0),
             "cloudwatch_metric_month"),
    ]  # fmt: skip
    if u.monitoring:
        lines += [
            Line("CloudWatch", "dashboard", 1, "cloudwatch_dashboard_month"),
            Line("CloudWatch", "alarms", MONITORING_ALARMS, "cloudwatch_alarm_month"),
        ]
    return lines


def _keys_and_traces(
    u: Usage, t: Traffic, invocations: dict[str, tuple[float, float]]
) -> list[Line]:
    handler_calls, handler_ms = invocations["connection handler"]
    containers = _containers(handler_calls, handler_ms) + _containers(t.connects, AUTHORIZER_MS)
    key_reads = containers * KEY_REFRESH_PER_HOUR * MINUTES_PER_MONTH / 60
    lines = [
        Line("Secrets Manager", "secrets", SECRETS, "secretsmanager_secret_month"),
        Line("Secrets Manager", "key reads", key_reads, "secretsmanager_calls_per_10k", 1e4),
    ]
    if u.customer_managed_keys:
        lines += [
            Line("KMS", "customer managed keys", u.customer_managed_keys, "kms_key_month"),
            Line("KMS", "requests", key_reads + _registry_writes(u, t),
                 "kms_requests_per_10k", 1e4),
        ]  # fmt: skip
    if u.tracing:
        traced = sum(calls for calls, _ in invocations.values())
        recorded = min(traced, XRAY_RESERVOIR) + max(0.0, traced - XRAY_RESERVOIR) * XRAY_RATE
        lines.append(Line("X-Ray", "traces recorded", recorded, "xray_traces_per_million", 1e6))
    return lines


def estimate(u: Usage) -> list[Line]:
    """One line per meter for a month of ``u``."""
    t = Traffic.of(u)
    invocations = _invocations(u, t)
    lines = _api_gateway(u, t.sent, t.client, t.pings)
    lines += _lambda(u, invocations)
    lines += _dynamodb(u, t)
    lines += _sqs(u, t)
    lines += _cloudwatch(u, t, invocations)
    lines += _keys_and_traces(u, t, invocations)
    if u.session_store:
        lines.append(Line("ElastiCache", "session store node-hours",
                          SESSION_STORE_NODES * MINUTES_PER_MONTH / 60,
                          "elasticache_valkey_t4g_micro_hour"))  # fmt: skip
    out_gb = t.sent * u.message_kb * 1024 / 1e9
    lines.append(Line("Data transfer", "out to clients (GB)", out_gb, "data_transfer_out_gb"))
    return lines


def by_service(lines: Sequence[Line], prices: dict[str, float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in lines:
        totals[line.service] = totals.get(line.service, 0.0) + line.usd(prices)
    return totals


def _money(usd: float) -> str:
    return f"${usd:,.2f}" if usd < 100 else f"${usd:,.0f}"


def report(u: Usage, prices: dict[str, float], read_on: str) -> str:
    lines = estimate(u)
    rows = [f"{'service':<16} {'meter':<40} {'quantity':>16} {'USD/month':>12}", "-" * 88]
    for line in lines:
        rows.append(
            f"{line.service:<16} {line.item:<40} {line.quantity:>16,.0f} "
            f"{_money(line.usd(prices)):>12}"
        )
    rows.append("-" * 88)
    for service, usd in by_service(lines, prices).items():
        rows.append(f"{service:<16} {'':<40} {'':>16} {_money(usd):>12}")
    total = sum(line.usd(prices) for line in lines)
    rows.append(f"{'total':<16} {'':<40} {'':>16} {_money(total):>12}")
    rows.append(
        f"\n{u.connections:,.0f} connections on average, {u.connection_minutes:,.0f} "
        f"connection-minutes; us-east-1 on-demand prices read {read_on} "
        f"(tools/cost/prices.json)"
    )
    return "\n".join(rows)


def markdown(prices: dict[str, float], read_on: str) -> str:
    """docs/cost.md's table: the lab-terminal profile for 100, 10,000 and 1,000,000 users."""
    columns = [by_service(estimate(users_profile(n)), prices) for n in DOC_USERS]
    services = list(dict.fromkeys(name for column in columns for name in column))
    head = "| service | " + " | ".join(f"{n:,} users" for n in DOC_USERS) + " |"
    rows = [head, "|---|" + "---:|" * len(DOC_USERS)]
    for service in services:
        cells = " | ".join(_money(column.get(service, 0.0)) for column in columns)
        rows.append(f"| {service} | {cells} |")
    totals = " | ".join(f"**{_money(sum(column.values()))}**" for column in columns)
    rows.append(f"| **total** | {totals} |")
    connected = " | ".join(f"{users_profile(n).connections:,.0f}" for n in DOC_USERS)
    rows.append(f"| connected on average | {connected} |")
    return "\n".join(rows) + f"\n\nPrices: us-east-1, on demand, read {read_on}.\n"


def _positive(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python tools/cost/estimate.py",
        description="Monthly AWS cost of the module per service, from tools/cost/prices.json.",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--users", type=int, help="the lab-terminal profile for this many users")
    who.add_argument("--connections", type=_positive, help="connected on average")
    p.add_argument("--connection-minutes", type=_positive, help="default: connections x 43,800")
    p.add_argument("--session-minutes", type=_positive, default=60.0)
    p.add_argument("--messages-per-minute", type=_positive, default=1.0)
    p.add_argument("--message-kb", type=_positive, default=1.0)
    p.add_argument("--pushes-per-minute", type=_positive, default=2.0)
    p.add_argument("--broadcasts-per-hour", type=_positive, default=0.0)
    p.add_argument("--broadcast-size", type=_positive, help="default: every connection")
    p.add_argument("--backend-ms", type=_positive, default=50.0)
    p.add_argument("--architecture", choices=("x86_64", "arm64"), default="x86_64")
    p.add_argument("--no-tracing", action="store_true")
    p.add_argument("--session-store", action="store_true")
    p.add_argument("--monitoring", action="store_true")
    p.add_argument("--gauge-interval-minutes", type=_positive, default=1.0)
    p.add_argument("--customer-managed-keys", type=int, default=0)
    p.add_argument("--markdown", action="store_true", help="docs/cost.md's table and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    prices, read_on = load_prices()
    if args.markdown:
        print(markdown(prices, read_on), end="")
        return 0
    if args.users is not None:
        usage = users_profile(args.users)
    elif args.connections is not None:
        minutes = args.connection_minutes
        usage = Usage(
            connections=args.connections,
            connection_minutes=args.connections * MINUTES_PER_MONTH if minutes is None else minutes,
        )
    else:
        print("estimate.py: give --users or --connections (see --help)", file=sys.stderr)
        return 64
    usage = replace(
        usage,
        session_minutes=args.session_minutes or 60.0,
        architecture=args.architecture,
        tracing=not args.no_tracing,
        gauge_interval_minutes=args.gauge_interval_minutes,
        customer_managed_keys=args.customer_managed_keys,
        session_store=usage.session_store or args.session_store,
        monitoring=usage.monitoring or args.monitoring,
    )
    if args.users is None:
        audience = args.broadcast_size
        usage = replace(
            usage,
            messages_per_minute=args.messages_per_minute,
            message_kb=args.message_kb,
            pushes_per_minute=args.pushes_per_minute,
            broadcasts_per_hour=args.broadcasts_per_hour,
            broadcast_size=usage.connections if audience is None else audience,
            backend_ms=args.backend_ms,
        )
    print(report(usage, prices, read_on))
    return 0


if __name__ == "__main__":
    sys.exit(main())
