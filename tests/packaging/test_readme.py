"""The terraform-docs blocks of the README and of each sub-module's README say what the
Terraform says, in the layout the real terraform-docs writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import terraform_docs  # noqa: E402

MODULES = sorted(path.parent for path in (ROOT / "modules").glob("*/variables.tf"))


@pytest.mark.parametrize(
    ("readme", "module"),
    [(ROOT / "README.md", ROOT)] + [(module / "README.md", module) for module in MODULES],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_block_matches_the_module(readme: Path, module: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "terraform_docs.py"),
            "--check",
            str(readme),
            "--module",
            str(module),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_sub_module_has_a_block() -> None:
    assert {path.name for path in MODULES} >= {
        "account_cloudwatch_role",
        "connections_table",
        "functions",
        "websocket_api",
    }


def _module(tmp_path: Path, text: str) -> terraform_docs.Module:
    (tmp_path / "main.tf").write_text(text, encoding="utf-8")
    return terraform_docs.load(tmp_path)


def test_rendering_follows_terraform_docs(tmp_path: Path) -> None:
    # Cases taken from terraform-docs' own golden files (format/testdata/markdown) and
    # sanitizer: anchors with escaped underscores, multi-line types as the source text in
    # <pre>, JSON defaults, escaped pipes and underscores outside code spans.
    module = _module(
        tmp_path,
        """
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

variable "input_with_pipe" {
  description = "It includes v1 | v2 | v3 and some_name but `keep_this`."
  type        = string
  default     = "v1"
}

variable "long_type" {
  type = object({
    name = string
    tags = optional(map(string), {})
  })
  default = { name = "hello", tags = {} }
}

variable "list_1" {
  type    = list(string)
  default = ["a", "b"]
}

variable "required_one" {
  type = number
}

resource "aws_iam_role" "this" {
  name = "x"
}

data "aws_region" "current" {}

module "child" {
  source = "git::https://example.com/repo.git?ref=v1.2.3"
}

output "role_arn" {
  value = aws_iam_role.this.arn
}
""",
    )
    rendered = terraform_docs.render(module)
    lines = rendered.splitlines()
    assert '| <a name="requirement_aws"></a> [aws](#requirement\\_aws) | >= 5.100, < 7.0 |' in lines
    assert '| <a name="provider_aws"></a> [aws](#provider\\_aws) | >= 5.100, < 7.0 |' in lines
    assert (
        '| <a name="module_child"></a> [child](#module\\_child) | '
        "git::https://example.com/repo.git | v1.2.3 |"
    ) in lines
    resources = [line for line in lines if line.startswith("| [aws_")]
    docs = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs"
    assert resources == [
        f"| [aws_iam_role.this]({docs}/resources/iam_role) | resource |",
        f"| [aws_region.current]({docs}/data-sources/region) | data source |",
    ]
    assert (
        '| <a name="input_input_with_pipe"></a> '
        "[input\\_with\\_pipe](#input\\_input\\_with\\_pipe) "
        '| It includes v1 \\| v2 \\| v3 and some\\_name but `keep_this`. | `string` | `"v1"` | no |'
    ) in lines
    assert (
        '| <a name="input_long_type"></a> [long\\_type](#input\\_long\\_type) | n/a | '
        "<pre>object({<br/>    name = string<br/>"
        "    tags = optional(map(string), {})<br/>  })</pre> | "
        '<pre>{<br/>  "name": "hello",<br/>  "tags": {}<br/>}</pre> | no |'
    ) in lines
    assert (
        '| <a name="input_list_1"></a> [list\\_1](#input\\_list\\_1) | n/a | `list(string)` | '
        '<pre>[<br/>  "a",<br/>  "b"<br/>]</pre> | no |'
    ) in lines
    assert (
        '| <a name="input_required_one"></a> [required\\_one](#input\\_required\\_one) | n/a | '
        "`number` | n/a | yes |"
    ) in lines
    assert '| <a name="output_role_arn"></a> [role\\_arn](#output\\_role\\_arn) | n/a |' in lines
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## Requirements", "## Providers", "## Modules", "## Resources", "## Inputs", "## Outputs",
    ]  # fmt: skip
    assert "| Name | Description | Type | Default | Required |" in lines
    assert "| ---- | ----------- | ---- | ------- | :------: |" in lines
