"""contract/contract.json is the one source of the facts the parts share: every generated copy
matches it, and Terraform, which is not generated, sets exactly its environment, with its
defaults and bounds."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest

from ws_bridge.settings import HandlerSettings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import contract as generator  # noqa: E402

CONTRACT = generator.load()
FUNCTIONS = ("authorizer", "connection_handler", "fanout_worker", "connections_gauge")
# Where Terraform builds each function's environment, as a local `<name>_environment`.
ENVIRONMENT_FILES = {
    "authorizer": ("modules/functions/environment.tf", "authorizer"),
    "connection_handler": ("modules/functions/environment.tf", "connection_handler"),
    "fanout_worker": ("modules/fanout/worker.tf", "worker"),
    "connections_gauge": ("modules/fanout/gauge.tf", "gauge"),
}


def _hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = hcl2.load(handle)
    return loaded


def _variable(name: str) -> dict[str, Any]:
    # The root module's variables, in variables.tf and the variables_*.tf beside it.
    blocks = [b for path in ROOT.glob("variables*.tf") for b in _hcl(path).get("variable", [])]
    for block in blocks:
        for key, body in block.items():
            if key.strip('"') == name:
                found: dict[str, Any] = body
                return found
    raise AssertionError(f"the root module has no variable {name!r}")


def _environment_keys(function: str) -> set[str]:
    path, local = ENVIRONMENT_FILES[function]
    for block in _hcl(ROOT / path)["locals"]:
        if f"{local}_environment" in block:
            return set(block[f"{local}_environment"])
    raise AssertionError(f"{path} has no local {local}_environment")


def test_every_copy_is_generated_from_the_contract() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "contract.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_code_added_to_the_contract_reaches_every_copy() -> None:
    changed = copy.deepcopy(CONTRACT)
    changed["errors"]["brand_new_code"] = {"status": 418, "message": "A new code."}
    changed["environment"]["connection_handler"]["BRAND_NEW_SETTING"] = {
        "type": "string",
        "default": "x",
        "meaning": "a new setting",
    }
    copies = {
        "python": generator.python(changed),
        "docs": "\n".join(generator.doc_blocks(changed).values()),
    }
    for name, text in copies.items():
        assert "brand_new_code" in text, name
        assert "BRAND_NEW_SETTING" in text, name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_terraform_sets_exactly_the_contracts_environment(function: str) -> None:
    assert _environment_keys(function) == set(CONTRACT["environment"][function])


def _optional_arguments(declared: str, attribute: str) -> list[str]:
    """The arguments of ``<attribute> = optional(...)`` in a type, split at its own commas."""
    found = [m.end() for m in re.finditer(rf"\b{attribute}\s*=\s*optional\(", declared)]
    assert len(found) == 1, f"{attribute}: {len(found)} declarations"
    depth, start, arguments = 0, found[0], []
    for index in range(found[0], len(declared)):
        char = declared[index]
        if char in "([{":
            depth += 1
        elif char in ")]}" and depth:
            depth -= 1
        elif char == ")" or (char == "," and depth == 0):
            arguments.append(declared[start:index].strip())
            start = index + 1
            if char == ")":
                return arguments
    raise AssertionError(f"{attribute}: unbalanced optional(...)")


def _terraform_default(path: str) -> Any:
    """The default of a variable or of an `optional(type, default)` attribute in it."""
    name, *attributes = path.split(".")
    variable = _variable(name)
    if not attributes:
        default = variable.get("default")
        return default.strip('"') if isinstance(default, str) else default
    arguments = _optional_arguments(str(variable["type"]), attributes[-1])
    return json.loads(arguments[1]) if len(arguments) > 1 else None


def _same(terraform: Any, contract: Any) -> bool:
    if isinstance(terraform, list):
        terraform = ",".join(terraform)
    if isinstance(terraform, bool) or isinstance(contract, bool):
        return terraform is contract
    return str(terraform) == str(contract)


def test_terraform_defaults_are_the_contracts() -> None:
    checked = 0
    for function in FUNCTIONS:
        for name, spec in CONTRACT["environment"][function].items():
            path = spec.get("terraform")
            if path is None or "default" not in spec or path == "name":
                continue  # the module's name has no default: Terraform always sets it
            terraform = _terraform_default(path)
            assert _same(terraform, spec["default"]), (
                f"{name}: Terraform's {path} defaults to {terraform!r}, "
                f"the contract says {spec['default']!r}"
            )
            checked += 1
    assert checked >= 12


def test_terraform_bounds_are_the_contracts() -> None:
    checked = 0
    for function in FUNCTIONS:
        for name, spec in CONTRACT["environment"][function].items():
            if "max" not in spec:
                continue
            path = spec["terraform"]
            conditions = " ".join(
                str(rule["condition"]) for rule in _variable(path.split(".")[0])["validation"]
            )
            field = re.escape(f"var.{path}")
            assert re.search(rf"{field} <= {spec['max']}\b", conditions), (name, "max")
            low = rf">= {spec['min']}\b" if "min" in spec else r"> 0\b"
            assert re.search(rf"{field} {low}", conditions), (name, "min")
            checked += 1
    assert checked >= 4


def test_the_backend_url_rule_is_the_same_in_terraform_and_python() -> None:
    condition = next(
        str(rule["condition"])
        for rule in _variable("backend")["validation"]
        if "var.backend.url" in str(rule["condition"]) and "regex" in str(rule["condition"])
    )
    hosts = re.search(r"http://\((.*?)\)", condition)
    assert hosts, condition
    terraform_hosts = {host.replace("\\\\.", ".") for host in hosts.group(1).split("|")}
    assert terraform_hosts == set(CONTRACT["backend_url"]["http_hosts"])

    base = {"CONNECTIONS_TABLE": "t"}
    for host in CONTRACT["backend_url"]["http_hosts"]:
        url = f"http://{host}:8081"
        assert HandlerSettings.from_env({**base, "BACKEND_URL": url}).backend_url == url
    assert HandlerSettings.from_env({**base, "BACKEND_URL": "https://b.example/"}).backend_url
    with pytest.raises(SettingsError, match=r"https:// \(http:// only for"):
        HandlerSettings.from_env({**base, "BACKEND_URL": "http://backend.example.com"})


def test_the_node_verifier_takes_its_constants_from_the_contract() -> None:
    source = (ROOT / "sdk" / "node" / "index.js").read_text()
    assert 'require("./contract.js")' in source
    for header in CONTRACT["signing"]["headers"].values():
        assert header.lower() not in source, f"{header} is written in index.js by hand"


GENERATED = {
    generator.PYTHON,
    generator.NODE,
    generator.BROWSER,
    generator.BROWSER_TYPES,
    generator.PYTHON_CLIENT,
}


def _hand_written_sources() -> list[Path]:
    """The JavaScript and TypeScript sources: Python's uses of a code are checked by mypy
    against the generated ``ErrorCode`` literal type; JavaScript has no such check."""
    patterns = ("sdk/node/*.js", "clients/browser/*.js", "clients/browser/*.ts")
    return [p for pattern in patterns for p in ROOT.glob(pattern) if p not in GENERATED]


def written_lists(path: Path, codes: list[str]) -> list[str]:
    """The contract's error codes a hand-written file spells out: more than two of them in one
    file is a list of its own, which would drift from the contract."""
    text = path.read_text(encoding="utf-8")
    found = [code for code in codes if re.search(rf"[\"']{code}[\"']", text)]
    return found if len(found) > 2 else []


def test_no_part_writes_its_own_list_of_error_codes(tmp_path: Path) -> None:
    codes = list(CONTRACT["errors"])
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in _hand_written_sources()
        if (found := written_lists(path, codes))
    }
    assert offenders == {}
    # A list added by hand (say, to ws-bridge.js) is caught.
    added = tmp_path / "ws-bridge.js"
    added.write_text('const CODES = ["invalid_json", "backend_error", "token_expired", "new"];')
    assert written_lists(added, codes) == ["invalid_json", "token_expired", "backend_error"]
