"""`make cost`: the model's arithmetic on cases worked by hand, its prices file, and the table
docs/cost.md shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "cost"))

import estimate  # noqa: E402

PRICES, READ_ON = estimate.load_prices()


def meter(usage: estimate.Usage, item: str) -> estimate.Line:
    return next(line for line in estimate.estimate(usage) if line.item == item)


def test_every_price_says_where_it_was_read_and_when() -> None:
    document = json.loads(estimate.PRICES_FILE.read_text())
    assert date.fromisoformat(document["read_on"]) <= date.today()
    for key, entry in document["prices"].items():
        assert entry["usd"] > 0, key
        assert entry["unit"], key
        assert entry["source"].startswith("https://"), key
        assert isinstance(entry["confirmed"], bool), key


def test_a_thousand_clients_connected_all_month_worked_by_hand() -> None:
    usage = estimate.Usage(
        connections=1000,
        connection_minutes=1000 * 43_800,
        messages_per_minute=1,
        pushes_per_minute=0,
        message_kb=1,
        session_minutes=60,
    )
    # 43.8 M connection-minutes at $0.25 a million.
    assert meter(usage, "connection-minutes").usd(PRICES) == pytest.approx(10.95)
    # 43.8 M client messages and as many replies, one 32 KB unit each, at $1 a million.
    assert meter(usage, "messages (first billion)").quantity == pytest.approx(87.6e6)
    # 730,000 connects, each a put and a delete in the table and both indexes.
    assert meter(usage, "write request units").quantity == pytest.approx(730_000 * 6)
    # Handler: every message, every connect and every disconnect.
    assert meter(usage, "connection handler invocations").quantity == pytest.approx(
        43.8e6 + 2 * 730_000
    )


def test_messages_are_metered_in_32_kb_units_and_tiered_past_a_billion() -> None:
    small = estimate.Usage(connections=1, connection_minutes=1e6, pushes_per_minute=0)
    big = replace(small, message_kb=33)
    assert (
        meter(big, "messages (first billion)").quantity
        == 2 * meter(small, "messages (first billion)").quantity
    )
    huge = replace(small, connection_minutes=1e9)
    beyond = meter(huge, "messages (beyond a billion)")
    assert beyond.quantity == pytest.approx(2e9 - 1e9)
    assert beyond.price_key == "apigateway_messages_over_billion_per_million"


def test_broadcasts_above_the_threshold_go_through_sqs() -> None:
    usage = estimate.Usage(
        connections=10_000,
        connection_minutes=10_000 * 43_800,
        broadcasts_per_hour=1,
        broadcast_size=10_000,
    )
    jobs = meter(usage, "fan-out worker invocations").quantity
    assert jobs == pytest.approx(730 * 100)  # 730 broadcasts of 100 messages of 100 ids
    small = replace(usage, broadcast_size=50)
    assert not any(line.service == "SQS" for line in estimate.estimate(small))


def test_optional_parts_add_their_meters() -> None:
    base = estimate.Usage(connections=10, connection_minutes=438_000)
    services = {line.service for line in estimate.estimate(base)}
    assert "ElastiCache" not in services
    assert "KMS" not in services
    full = replace(base, session_store=True, customer_managed_keys=2, tracing=False)
    lines = estimate.estimate(full)
    assert {"ElastiCache", "KMS"} <= {line.service for line in lines}
    assert "X-Ray" not in {line.service for line in lines}


def test_each_function_is_billed_at_its_terraform_memory_default() -> None:
    def default(file: str, variable: str) -> int:
        text = (ROOT / file).read_text()
        block = text.split(f'variable "{variable}"', 1)[1].split('\nvariable "', 1)[0]
        found = re.search(r"memory_size\s*=\s*optional\(number,\s*(\d+)\)", block)
        assert found, f"no memory_size default in variable {variable}"
        return int(found.group(1))

    gauge = (ROOT / "modules" / "fanout" / "gauge.tf").read_text()
    found = re.search(r"memory_size\s*=\s*(\d+)", gauge)
    assert found
    terraform = {
        "connection handler": default("variables.tf", "connection_handler"),
        "authorizer": default("variables.tf", "authorizer"),
        "fan-out worker": default("variables_optional.tf", "fanout"),
        "open-connections gauge": int(found.group(1)),
    }
    assert terraform == estimate.FUNCTION_MB


def test_the_documented_table_is_the_models() -> None:
    doc = (ROOT / "docs" / "cost.md").read_text()
    block = re.search(r"<!-- BEGIN_COST_TABLE -->\n(.*?)<!-- END_COST_TABLE -->", doc, re.S)
    assert block, "docs/cost.md has no cost table markers"
    assert block.group(1) == estimate.markdown(PRICES, READ_ON), (
        "docs/cost.md is stale: paste `python tools/cost/estimate.py --markdown` between "
        "its markers"
    )


def test_the_command_line() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "tools" / "cost" / "estimate.py"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = run("--connections", "500", "--message-kb", "40")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^total\s+\$[\d,.]+$", result.stdout, flags=re.MULTILINE)
    assert run().returncode == 64
    assert run("--connections", "-1").returncode == 2
    assert run("--users", "5", "--connections", "5").returncode == 2
