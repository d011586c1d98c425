"""One place for each limit that Terraform and the Lambda package both enforce.

Terraform validates inputs at plan time and the package re-checks the environment it gets;
each limit below is read from the Terraform (python-hcl2) and compared with the Python
constant, so that changing one side alone fails here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import hcl2

from ws_bridge import aws, settings
from ws_bridge_backend import contract

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = hcl2.load(handle)
    return loaded


def _variable(name: str) -> dict[str, Any]:
    # The root module's variables, in variables.tf and the variables_*.tf beside it.
    blocks = [b for path in ROOT.glob("variables*.tf") for b in _load(path).get("variable", [])]
    for block in blocks:
        for key, body in block.items():
            if key.strip('"') == name:
                found: dict[str, Any] = body
                return found
    raise AssertionError(f"the root module has no variable {name!r}")


def _conditions(name: str) -> list[str]:
    return [str(rule["condition"]) for rule in _variable(name)["validation"]]


def _condition_matching(name: str, pattern: str) -> re.Match[str]:
    for condition in _conditions(name):
        match = re.search(pattern, condition)
        if match:
            return match
    raise AssertionError(f"no validation of {name!r} matches {pattern!r}")


def _functions_local(name: str) -> Any:
    for block in _load(ROOT / "modules" / "functions" / "main.tf")["locals"]:
        if name in block:
            return block[name]
    raise AssertionError(f"modules/functions/main.tf has no local {name!r}")


def test_algorithms_are_the_same_set() -> None:
    match = _condition_matching("jwt", r"contains\((\[[^\]]*\]), algorithm\)")
    terraform = set(json.loads(match.group(1)))
    assert terraform == settings.HMAC_ALGORITHMS | settings.ASYMMETRIC_ALGORITHMS


def test_hmac_algorithms_are_the_hs_prefix_terraform_tests() -> None:
    # Terraform tells HMAC from asymmetric algorithms by the "HS" prefix alone.
    _condition_matching("jwt", r'startswith\(algorithm, "HS"\)')
    assert all(name.startswith("HS") for name in settings.HMAC_ALGORITHMS)
    assert not any(name.startswith("HS") for name in settings.ASYMMETRIC_ALGORITHMS)


# The bounds of every environment variable (timeouts, leeway, key refresh) are checked
# against the contract, generally, in test_contract.py.


def test_connect_budget_is_the_dynamodb_retry_budget() -> None:
    # connection_handler.timeout must exceed backend.timeout_seconds + this budget, which is
    # what the handler's DynamoDB retries may take (ws_bridge.aws), in whole seconds.
    budget = _functions_local("dynamodb_budget_seconds")
    assert budget == math.ceil(aws.REGISTRY_BUDGET_SECONDS)


def test_function_timeout_cap_is_below_api_gateways_limit() -> None:
    # API Gateway ends an integration after 29 s: the functions' timeouts stop at 28 s, and
    # the longest backend call must leave the connect budget inside that.
    cap = int(_functions_local("max_function_timeout"))
    for name in ("authorizer", "connection_handler"):
        match = _condition_matching(name, rf"var\.{name}\.timeout <= ([0-9]+)")
        assert int(match.group(1)) == cap
    assert cap == contract.MAX_FUNCTION_TIMEOUT_SECONDS < contract.MAX_INTEGRATION_SECONDS
