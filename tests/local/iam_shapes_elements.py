"""Rows of the policy elements: explicit deny, Action/NotAction, Resource/NotResource, ARNs
by segment, actions without resource-level permissions, policy variables."""

from __future__ import annotations

from iam_shapes import (
    ACCOUNT,
    ARNS,
    EVALUATION,
    NOT_ACTION,
    NOT_RESOURCE,
    REGION,
    RESOURCE,
    SECRET,
    TABLE,
    USER,
    VARIABLES,
    Shape,
    allow,
    deny,
    policy,
)


def element_rows() -> list[Shape]:
    """Explicit deny, Action/NotAction, Resource/NotResource, resources by segment,
    actions without resource-level permissions, policy variables."""
    # A table, one row per shape: long, but a row is read on its own.
    put = "dynamodb:PutItem"
    xray = "xray:PutTraceSegments"
    logs_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/ws-handler"
    stream = f"{logs_arn}:log-stream:2025/01/01/[$LATEST]abc"
    return [
        Shape(
            "an Allow of the action on the resource",
            [policy(allow(put, TABLE))],
            put,
            TABLE,
            {},
            "allow",
            EVALUATION,
        ),
        Shape(
            "no statement allows: implicit deny",
            [policy(allow("dynamodb:GetItem", TABLE))],
            put,
            TABLE,
            {},
            "implicitDeny",
            EVALUATION,
        ),
        Shape(
            "an explicit Deny beats an Allow",
            [policy(allow("dynamodb:*", "*"), deny(put, TABLE))],
            put,
            TABLE,
            {},
            "explicitDeny",
            EVALUATION,
        ),
        Shape(
            "action names match case-insensitively",
            [policy(allow("DynamoDB:putitem", TABLE))],
            put,
            TABLE,
            {},
            "allow",
            EVALUATION,
        ),
        Shape(
            "another table",
            [policy(allow(put, TABLE))],
            put,
            f"{TABLE}-other",
            {},
            "implicitDeny",
            RESOURCE,
        ),
        Shape(
            "an index is not its table",
            [policy(allow("dynamodb:Query", TABLE))],
            "dynamodb:Query",
            f"{TABLE}/index/sessionId-index",
            {},
            "implicitDeny",
            RESOURCE,
        ),
        Shape(
            "NotAction allows every other action",
            [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
            put,
            TABLE,
            {},
            "allow",
            NOT_ACTION,
        ),
        Shape(
            "NotAction excludes the action named",
            [policy({"Effect": "Allow", "NotAction": "dynamodb:*", "Resource": "*"})],
            put,
            TABLE,
            {},
            "implicitDeny",
            NOT_ACTION,
        ),
        Shape(
            "NotResource with Allow covers every other resource",
            [policy({"Effect": "Allow", "Action": put, "NotResource": f"{TABLE}-other"})],
            put,
            TABLE,
            {},
            "allow",
            NOT_RESOURCE,
        ),
        Shape(
            "NotResource with Allow excludes the resource named",
            [policy({"Effect": "Allow", "Action": put, "NotResource": TABLE})],
            put,
            TABLE,
            {},
            "implicitDeny",
            NOT_RESOURCE,
        ),
        Shape(
            "a Resource wildcard does not span the region and account segments",
            [policy(allow(put, "arn:aws:dynamodb:*"))],
            put,
            TABLE,
            {},
            "implicitDeny",
            ARNS,
        ),
        Shape(
            "a wildcard in the region segment does not reach into the account",
            [policy(allow(put, "arn:aws:dynamodb:*:table/ws-connections"))],
            put,
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ws-connections",
            {},
            "implicitDeny",
            ARNS,
        ),
        Shape(
            "a wildcard in the account segment does not reach into the resource",
            [policy(allow(put, "arn:aws:dynamodb:*:*:ws-connections"))],
            put,
            TABLE,
            {},
            "implicitDeny",
            ARNS,
        ),
        Shape(
            "wildcards in each segment",
            [policy(allow(put, "arn:aws:dynamodb:*:*:table/ws-*"))],
            put,
            TABLE,
            {},
            "allow",
            ARNS,
        ),
        Shape(
            "the resource segment keeps its colons (a log stream)",
            [policy(allow("logs:PutLogEvents", f"{logs_arn}:*"))],
            "logs:PutLogEvents",
            stream,
            {},
            "allow",
            ARNS,
        ),
        Shape(
            "another function's log group",
            [policy(allow("logs:PutLogEvents", f"{logs_arn}-other:*"))],
            "logs:PutLogEvents",
            stream,
            {},
            "implicitDeny",
            ARNS,
        ),
        Shape(
            "X-Ray has no resource-level permissions: only Resource * allows",
            [policy(allow(xray, f"arn:aws:xray:{REGION}:{ACCOUNT}:*"))],
            xray,
            "*",
            {},
            "implicitDeny",
            RESOURCE,
        ),
        Shape(
            "X-Ray with Resource *", [policy(allow(xray, "*"))], xray, "*", {}, "allow", RESOURCE
        ),
        Shape(
            "elasticache:Connect on the replication group",
            [
                policy(
                    allow(
                        "elasticache:Connect",
                        f"arn:aws:elasticache:{REGION}:{ACCOUNT}:replicationgroup:ws-sessions",
                    )
                )
            ],
            "elasticache:Connect",
            f"arn:aws:elasticache:{REGION}:{ACCOUNT}:user:ws-backend",
            {},
            "implicitDeny",
            RESOURCE,
        ),
        Shape(
            "a policy variable in Resource",
            [
                policy(
                    allow(
                        "secretsmanager:GetSecretValue",
                        "arn:aws:secretsmanager:*:*:secret:${aws:username}-*",
                    )
                )
            ],
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:alice-AbCdEf",
            {"aws:username": "alice"},
            "allow",
            VARIABLES,
            principal=USER,
        ),
        Shape(
            "a policy variable whose key is absent matches nothing",
            [
                policy(
                    allow(
                        "secretsmanager:GetSecretValue",
                        "arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team}-*",
                    )
                )
            ],
            "secretsmanager:GetSecretValue",
            SECRET,
            {},
            "implicitDeny",
            VARIABLES,
        ),
        Shape(
            "a policy variable with a default",
            [
                policy(
                    allow(
                        "secretsmanager:GetSecretValue",
                        "arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team, 'ws'}-*",
                    )
                )
            ],
            "secretsmanager:GetSecretValue",
            SECRET,
            {},
            "allow",
            VARIABLES,
        ),
        Shape(
            "variables are literal text in a 2008-10-17 policy",
            [
                {
                    "Version": "2008-10-17",
                    "Statement": [
                        allow(
                            "secretsmanager:GetSecretValue",
                            "arn:aws:secretsmanager:*:*:secret:${aws:username}-*",
                        )
                    ],
                }
            ],
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:alice-AbCdEf",
            {"aws:username": "alice"},
            "implicitDeny",
            VARIABLES,
            principal=USER,
        ),
        Shape(
            "a variable in a condition value",
            [
                policy(
                    allow(
                        "dynamodb:GetItem",
                        TABLE,
                        {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": "${aws:username}"}},
                    )
                )
            ],
            "dynamodb:GetItem",
            TABLE,
            {"aws:username": "alice", "dynamodb:LeadingKeys": ["bob"]},
            "implicitDeny",
            VARIABLES,
            principal=USER,
        ),
    ]
