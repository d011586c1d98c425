"""Rows of the condition operators: every operator, absent keys, IfExists, Null and the set
operators (iam_shapes.Shape)."""

from __future__ import annotations

from typing import Any

from iam_shapes import (
    ACCOUNT,
    ARNS,
    GLOBAL_KEYS,
    MULTIVALUED,
    OPERATORS,
    REGION,
    ROLE,
    SECRET,
    SECRET_KEYS,
    USER,
    Shape,
    allow,
    policy,
)


def operator_rows() -> list[Shape]:
    """Condition operators, absent keys, IfExists, Null and the set operators."""
    # A table, one row per shape: long, but a row is read on its own.
    get = "secretsmanager:GetSecretValue"

    def stage(
        condition: dict[str, Any],
        context: dict[str, Any],
        expected: str,
        name: str,
        page: str = OPERATORS,
    ) -> Shape:
        return Shape(
            name, [policy(allow(get, SECRET, condition))], get, SECRET, context, expected, page
        )

    awscurrent = {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}
    return [
        stage(
            awscurrent,
            {"secretsmanager:VersionStage": "AWSCURRENT"},
            "allow",
            "VersionStage=AWSCURRENT, the current version",
            SECRET_KEYS,
        ),
        stage(
            awscurrent,
            {"secretsmanager:VersionStage": "AWSPREVIOUS"},
            "implicitDeny",
            "VersionStage=AWSCURRENT only: the AWSPREVIOUS read rotation needs is denied",
            SECRET_KEYS,
        ),
        stage(
            awscurrent,
            {},
            "implicitDeny",
            "a condition key absent from the request fails the condition",
        ),
        stage(
            {"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}},
            {},
            "allow",
            "IfExists: an absent key satisfies it",
        ),
        stage(
            {"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}},
            {"secretsmanager:VersionStage": "AWSPREVIOUS"},
            "implicitDeny",
            "IfExists: a present key is compared",
        ),
        stage(
            {"StringNotEquals": {"secretsmanager:VersionStage": "AWSPENDING"}},
            {},
            "allow",
            "a negated operator holds when the key is absent",
        ),
        stage(
            {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
            {},
            "implicitDeny",
            "aws:SourceVpce is absent outside a VPC endpoint",
            GLOBAL_KEYS,
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": "labs"}},
            {"aws:ResourceTag/team": "labs"},
            "allow",
            "aws:ResourceTag matches the resource's tag",
            GLOBAL_KEYS,
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": "labs"}},
            {},
            "implicitDeny",
            "aws:ResourceTag of an untagged resource is absent",
            GLOBAL_KEYS,
        ),
        stage(
            {"StringEquals": {"AWS:RESOURCETAG/team": "labs"}},
            {"aws:ResourceTag/team": "labs"},
            "allow",
            "condition key names are case-insensitive",
            OPERATORS,
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": "Labs"}},
            {"aws:ResourceTag/team": "labs"},
            "implicitDeny",
            "StringEquals is case-sensitive",
        ),
        stage(
            {"StringEqualsIgnoreCase": {"aws:ResourceTag/team": "Labs"}},
            {"aws:ResourceTag/team": "labs"},
            "allow",
            "StringEqualsIgnoreCase",
        ),
        stage(
            {"StringLike": {"aws:ResourceTag/team": "lab?"}},
            {"aws:ResourceTag/team": "labs"},
            "allow",
            "StringLike with ?",
        ),
        stage(
            {"StringLike": {"aws:ResourceTag/team": "lab?"}},
            {"aws:ResourceTag/team": "lab"},
            "implicitDeny",
            "StringLike ? is exactly one character",
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": "lab*"}},
            {"aws:ResourceTag/team": "labs"},
            "implicitDeny",
            "StringEquals takes * literally",
        ),
        stage(
            {"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "120"},
            "allow",
            "NumericLessThanEquals",
        ),
        stage(
            {"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "7200"},
            "implicitDeny",
            "NumericLessThanEquals, over the limit",
        ),
        stage(
            {"NumericEquals": {"aws:MultiFactorAuthAge": "10"}},
            {"aws:MultiFactorAuthAge": "ten"},
            "implicitDeny",
            "a Numeric operator on a non-number matches nothing",
        ),
        stage(
            {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2025-06-01T12:00:00Z"},
            "allow",
            "DateLessThan with ISO 8601",
        ),
        stage(
            {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2025-06-01T12:00:00Z"},
            "implicitDeny",
            "DateGreaterThan",
        ),
        stage(
            {"DateGreaterThan": {"aws:EpochTime": "1700000000"}},
            {"aws:EpochTime": "1800000000"},
            "allow",
            "Date operators take epoch seconds",
        ),
        stage(
            {"Bool": {"aws:SecureTransport": "true"}},
            {"aws:SecureTransport": "true"},
            "allow",
            "Bool",
        ),
        stage(
            {"Bool": {"aws:SecureTransport": "true"}},
            {"aws:SecureTransport": "false"},
            "implicitDeny",
            "Bool, false",
        ),
        stage(
            {"Bool": {"aws:SecureTransport": True}},
            {"aws:SecureTransport": "true"},
            "allow",
            "a JSON boolean in the policy",
        ),
        stage(
            {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
            {},
            "allow",
            "BoolIfExists with no MFA key (long-term keys)",
        ),
        stage(
            {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            {"aws:SourceIp": "203.0.113.7"},
            "allow",
            "IpAddress, inside the CIDR",
        ),
        stage(
            {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            {"aws:SourceIp": "198.51.100.7"},
            "implicitDeny",
            "IpAddress, outside the CIDR",
        ),
        stage(
            {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}},
            {"aws:SourceIp": "2001:db8::1"},
            "allow",
            "IpAddress, IPv6",
        ),
        stage(
            {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            {"aws:SourceIp": "198.51.100.7"},
            "allow",
            "NotIpAddress",
        ),
        stage(
            {"Null": {"aws:TokenIssueTime": "false"}},
            {"aws:TokenIssueTime": "2025-01-01T00:00:00Z"},
            "allow",
            "Null false: the key is present (temporary credentials)",
        ),
        stage(
            {"Null": {"aws:TokenIssueTime": "false"}},
            {},
            "implicitDeny",
            "Null false: the key is absent",
        ),
        stage(
            {"Null": {"aws:TokenIssueTime": "true"}}, {}, "allow", "Null true: the key is absent"
        ),
        stage(
            {"BinaryEquals": {"aws:ResourceTag/blob": "QmluYXJ5"}},
            {"aws:ResourceTag/blob": "QmluYXJ5"},
            "allow",
            "BinaryEquals",
        ),
        stage(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ws-*"}},
            {"aws:PrincipalArn": ROLE},
            "allow",
            "ArnLike by segment",
            ARNS,
        ),
        stage(
            {"ArnLike": {"aws:PrincipalArn": f"arn:*:{ACCOUNT}:*"}},
            {"aws:PrincipalArn": ROLE},
            "implicitDeny",
            "ArnLike: a pattern without all six segments never matches (no wildcard spans a colon)",
            OPERATORS,
        ),
        stage(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
            {"aws:PrincipalArn": USER},
            "implicitDeny",
            "ArnLike, another resource type",
        ),
        stage(
            {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/ws-handler"}},
            {"aws:PrincipalArn": ROLE},
            "allow",
            "ArnEquals takes wildcards by segment too",
        ),
        stage(
            {"ArnLike": {"aws:SourceArn": f"arn:aws:execute-api:{REGION}:*:api1/*"}},
            {"aws:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other:api1/x"},
            "implicitDeny",
            "ArnLike: a wildcard in the account segment does not reach into the resource",
            ARNS,
        ),
        stage(
            {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"}},
            {},
            "allow",
            "ArnNotLike holds for an absent key",
        ),
        stage(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
            {"aws:PrincipalArn": "not-an-arn"},
            "implicitDeny",
            "ArnLike on a value that is not an ARN",
        ),
        stage(
            {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}},
            {"aws:TagKeys": ["owner", "team"]},
            "allow",
            "ForAnyValue: one value matches",
            MULTIVALUED,
        ),
        stage(
            {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
            {},
            "implicitDeny",
            "ForAnyValue: an absent key fails",
            MULTIVALUED,
        ),
        stage(
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
            {"aws:TagKeys": ["team", "owner"]},
            "implicitDeny",
            "ForAllValues: one value outside the set",
            MULTIVALUED,
        ),
        stage(
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
            {"aws:TagKeys": ["team"]},
            "allow",
            "ForAllValues: every value in the set",
            MULTIVALUED,
        ),
        stage(
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
            {},
            "allow",
            "ForAllValues: an absent key holds",
            MULTIVALUED,
        ),
        stage(
            {"StringEquals": {"aws:TagKeys": "team"}},
            {"aws:TagKeys": ["team"]},
            "implicitDeny",
            "a multivalued key without a set operator matches nothing",
            MULTIVALUED,
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": ["ops", "labs"]}},
            {"aws:ResourceTag/team": "labs"},
            "allow",
            "several values of one key: any of them",
        ),
        stage(
            {"StringEquals": {"aws:ResourceTag/team": "labs", "aws:ResourceTag/env": "prod"}},
            {"aws:ResourceTag/team": "labs"},
            "implicitDeny",
            "several keys: all of them",
        ),
    ]
