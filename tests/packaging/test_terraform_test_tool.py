"""tools/terraform_test.py (`make tf-test`): how it splits the test files and what it calls a
pass. Terraform itself runs in `make tf-test`; here, its output as Terraform 1.11 prints it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import terraform_test
from terraform_test import Expected, problems, split

HEADER = 'mock_provider "aws" {}\n\nvariables {\n  name = "demo"\n}\n\n'
FILE = (
    HEADER
    + 'run "valid" {\n  command = plan\n}\n\n'
    + 'run "bad_name" {\n  command = plan\n\n  variables {\n    name = "Bad_"\n  }\n\n'
    + "  expect_failures = [var.name]\n}\n\n"
    + 'run "after" {\n  command = plan\n  assert {\n    condition = true\n'
    + '    error_message = "x"\n  }\n}\n'
)

VARIABLE_ERROR = """
Error: Invalid value for variable

  on tests/terraform/demo__bad_name.tftest.hcl line 9, in run "bad_name":
   9:     name = "Bad_"
    ├────────────────
    │ var.name is "Bad_"

The name must be lowercase.
"""
PRECONDITION_ERROR = """
Error: Resource precondition failed

  on modules/websocket_api/stage.tf line 130, in resource "aws_apigatewayv2_stage" "this":
 130:       condition = var.account_cloudwatch_role_arn != null
    ├────────────────
    │ var.name is "demo"

Access logs need the account's CloudWatch role.
"""


def output(rest: str, own: str) -> str:
    return (
        "tests/terraform/demo.tftest.hcl... in progress\n"
        f"{rest}"
        "tests/terraform/demo.tftest.hcl... tearing down\n"
        "tests/terraform/demo__bad_name.tftest.hcl... in progress\n"
        '  run "bad_name"... fail\n'
        f"{own}"
        "tests/terraform/demo__bad_name.tftest.hcl... fail\n"
    )


PASSED = '  run "valid"... pass\n  run "after"... pass\n'
EXPECTED = [Expected("demo__bad_name", ("var.name",))]


def test_each_expect_failures_run_gets_a_file_of_its_own_and_the_rest_stay(
    tmp_path: Path,
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / "demo.tftest.hcl").write_text(FILE)
    assert split(source, target) == EXPECTED
    own = (target / "demo__bad_name.tftest.hcl").read_text()
    assert own.startswith(HEADER)
    assert 'run "bad_name"' in own
    assert "expect_failures" not in own
    assert 'run "valid"' not in own
    rest = (target / "demo.tftest.hcl").read_text()
    assert 'run "valid"' in rest
    assert 'run "after"' in rest
    assert 'run "bad_name"' not in rest


def test_one_error_about_the_named_variable_passes() -> None:
    assert problems(output(PASSED, VARIABLE_ERROR), EXPECTED) == []


@pytest.mark.parametrize(
    ("rest", "own", "problem"),
    [
        (PASSED, "", "0 errors"),
        (PASSED, VARIABLE_ERROR * 2, "2 errors"),
        (PASSED, PRECONDITION_ERROR, "is not about var.name"),
        ('  run "valid"... pass\n  run "after"... fail\n', VARIABLE_ERROR, "did not pass"),
        ('  run "valid"... pass\n  run "after"... skip\n', VARIABLE_ERROR, "did not pass"),
    ],
    ids=["no-error", "two-errors", "another-object", "a-run-failed", "a-run-skipped"],
)
def test_anything_else_is_a_problem(rest: str, own: str, problem: str) -> None:
    (found,) = problems(output(rest, own), EXPECTED)
    assert problem in found


def test_a_resource_condition_is_matched_by_its_address() -> None:
    assert terraform_test.about(
        PRECONDITION_ERROR.split("Error: ", 1)[1], "aws_apigatewayv2_stage.this"
    )
    assert not terraform_test.about(PRECONDITION_ERROR.split("Error: ", 1)[1], "var.name")


def test_a_run_that_never_ran_is_a_problem() -> None:
    text = "tests/terraform/demo.tftest.hcl... in progress\n" + PASSED
    assert problems(text, EXPECTED) == ["demo__bad_name: not run"]
