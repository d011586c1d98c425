"""The local stack applies examples/local as a user does, through its `source = "../../"`:
whatever files the root module is made of, the stack applies it, and it keeps its own
Terraform data and state out of the configuration's directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wslocal.stack import REPO_ROOT, Stack, StackConfig, distinct_free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EXAMPLE = Path("examples") / "local"
_TERRAFORM_LEFTOVERS = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")


def _module_copy(target: Path) -> Path:
    """The root module (its .tf files, modules/, packages/) and examples/local copied to
    `target`; the Python sources the stack runs are linked."""
    target.mkdir()
    for path in REPO_ROOT.glob("*.tf"):
        shutil.copy2(path, target / path.name)
    for folder in ("modules", "packages"):
        shutil.copytree(REPO_ROOT / folder, target / folder, ignore=_TERRAFORM_LEFTOVERS)
    shutil.copytree(REPO_ROOT / EXAMPLE, target / EXAMPLE, ignore=_TERRAFORM_LEFTOVERS)
    for folder in ("lambda", "local"):
        (target / folder).symlink_to(REPO_ROOT / folder)
    return target


def test_any_root_file_layout_applies(tmp_path: Path) -> None:
    root = _module_copy(tmp_path / "module")
    # A new, empty file at the root, and the outputs moved to a file of another name: a
    # stack that linked a list of the root's files would miss every output.
    (root / "iam.tf").write_text("")
    (root / "outputs.tf").rename(root / "outputs_api.tf")
    emulator_port, gateway_port, backend_port, connections_port = distinct_free_ports()
    config = StackConfig(
        repo_root=root,
        emulator_port=emulator_port,
        gateway_port=gateway_port,
        backend_port=backend_port,
        connections_port=connections_port,
        # The emulator is the stack's own and stops with it; test_emulator, test_demo and
        # the acceptance suite check destroy.
        destroy_on_exit=False,
    )
    with Stack(config) as stack:
        assert stack.outputs.api_id
        assert stack.outputs.local_websocket_url.endswith("/local")
        assert stack.workdir is not None
        assert (stack.workdir / "terraform.tfstate").is_file()
        # The configuration's directory holds no data or state of the stack's.
        assert not (root / EXAMPLE / ".terraform").exists()
        assert not list((root / EXAMPLE).glob("*.tfstate*"))
        assert not (root / EXAMPLE / "terraform.tfvars.json").exists()
        apis = stack.client("apigatewayv2").get_apis()["Items"]
        assert [api["ApiId"] for api in apis] == [stack.outputs.api_id]
