"""Each policy shape decided as AWS documents it (iam_shapes*.py: one row per shape, with
the page it rests on), by the pure evaluator and by `POST /_wslocal/iam/authorize`.

Where the shapes an evaluator that erred on the generous side got wrong are:

1. unknown condition keys and operators: iam_shapes_conditions.py (kms:ViaService and
   VersionStage rows, aws:SourceVpce, aws:ResourceTag, every operator family, IfExists,
   Null, ForAnyValue/ForAllValues);
2. KMS behind Secrets Manager and DynamoDB: iam_shapes.kms_rows, and the calls themselves
   in test_emulator_iam_requests.py and tests/integration/test_enforcement_keys.py;
3. ArnLike as one glob: the "does not reach into" rows (conditions and elements);
4. unknown resources matching every Resource: the X-Ray, elasticache:Connect and log-stream
   rows, and the unmapped-operation tests of test_emulator_iam_requests.py;
5. SecretId compared as sent: test_emulator_iam_requests.py;
6. SigV4 skew and signed host: test_emulator_sigv4.py;
7. resource, key and trust policies: iam_shapes.resource_policy_rows and kms_rows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from iam_shapes import ACCOUNT, Shape, all_shapes
from werkzeug.test import Client
from werkzeug.wrappers import Response

from wslocal.emulator.iam.endpoint import AUTHORIZE_PATH, wsgi_middleware
from wslocal.emulator.iam.matching import arn_segments
from wslocal.emulator.iam.policy import Principal, Request, ResourcePolicy, decide
from wslocal.emulator.iam.resources import NoLookup

SHAPES = all_shapes()


def _resource_policy(shape: Shape) -> ResourcePolicy | None:
    if shape.resource_policy is None and not shape.required:
        return None
    segments = arn_segments(shape.resource)
    account = segments[4] if segments and segments[4] else ACCOUNT
    return ResourcePolicy(shape.resource_policy, account, required=shape.required)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_the_evaluator_decides_each_shape_as_aws_documents(shape: Shape) -> None:
    request = Request(Principal.parse(shape.principal), shape.action, shape.resource, shape.context)
    decision = decide(request, shape.identity, _resource_policy(shape))
    assert decision.outcome == shape.expected, shape.page


def _unused_app(environ: dict[str, Any], start_response: Any) -> Any:
    raise AssertionError("the endpoint answers without the application behind it")


def _no_signed_requests(*args: Any) -> dict[str, Any]:
    raise AssertionError("these queries are policy evaluations")


ENDPOINT = Client(wsgi_middleware(_unused_app, NoLookup, _no_signed_requests), Response)


def ask(query: dict[str, Any]) -> dict[str, Any]:
    response = ENDPOINT.post(AUTHORIZE_PATH, data=json.dumps(query))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = json.loads(response.get_data())
    return answer


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_the_endpoint_answers_each_shape(shape: Shape) -> None:
    query: dict[str, Any] = {
        "principal": shape.principal,
        "identityPolicies": shape.identity,
        "action": shape.action,
        "resource": shape.resource,
        "context": shape.context,
        "resourcePolicyRequired": shape.required,
    }
    if shape.resource_policy is not None:
        query["resourcePolicy"] = shape.resource_policy
    answer = ask(query)
    assert answer["decision"] == shape.expected, shape.page
    assert answer["allowed"] is (shape.expected == "allow")
    if not answer["allowed"]:
        assert shape.action in answer["message"]
        assert shape.resource in answer["message"]


def test_every_shape_names_the_aws_page_it_rests_on() -> None:
    for shape in SHAPES:
        assert shape.page.startswith("https://docs.aws.amazon.com/"), shape.name
    assert len({s.name for s in SHAPES}) == len(SHAPES), "two rows share a name"
    assert {s.expected for s in SHAPES} == {"allow", "explicitDeny", "implicitDeny"}


def test_the_endpoint_refuses_what_it_cannot_evaluate() -> None:
    malformed = ask(
        {
            "principal": "arn:aws:iam::123456789012:user/alice",
            "identityPolicies": [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "*",
                            "Condition": {"StringSortOfEquals": {"aws:username": "alice"}},
                        }
                    ],
                }
            ],
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::bucket/key",
        }
    )
    assert (malformed["allowed"], malformed["errorType"]) == (False, "MalformedPolicyDocument")
    assert "StringSortOfEquals" in malformed["message"]
    unmapped = ask(
        {
            "principal": "arn:aws:iam::123456789012:user/alice",
            "identityPolicies": [],
            "call": {"service": "lambda", "operation": "InvokeFunction", "parameters": {}},
        }
    )
    assert (unmapped["allowed"], unmapped["errorType"]) == (False, "UnmappedRequest")
    assert "lambda:InvokeFunction" in unmapped["message"]
    response = ENDPOINT.post(AUTHORIZE_PATH, data=json.dumps({"principal": 7}))
    assert response.status_code == 400


def test_the_endpoint_says_it_enforces() -> None:
    response = ENDPOINT.get(AUTHORIZE_PATH)
    assert json.loads(response.get_data()) == {"enforced": True}
