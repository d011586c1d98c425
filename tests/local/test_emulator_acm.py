"""The emulator's ACM (wslocal.emulator.acm): a DNS-validated certificate is issued once its
validation record is in Route 53, at once and never without it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws, settings

from wslocal.emulator import acm

REGION = "us-east-1"
DOMAIN = "ws.labs.example.test"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(name, value)
    # moto alone would issue every certificate at its first describe from now on
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", -1)
    acm.install()
    with mock_aws():
        yield boto3.client("acm", region_name=REGION), boto3.client("route53", region_name=REGION)


def status(client: Any, arn: str) -> str:
    return str(client.describe_certificate(CertificateArn=arn)["Certificate"]["Status"])


def publish(route53: Any, zone_id: str, name: str, value: str) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )


def test_a_certificate_is_issued_once_its_validation_record_is_published(
    clients: tuple[Any, Any],
) -> None:
    certificates, route53 = clients
    arn = certificates.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")[
        "CertificateArn"
    ]
    assert status(certificates, arn) == "PENDING_VALIDATION"
    (option,) = certificates.describe_certificate(CertificateArn=arn)["Certificate"][
        "DomainValidationOptions"
    ]
    record = option["ResourceRecord"]
    zone = route53.create_hosted_zone(Name="labs.example.test", CallerReference="acm-test")
    zone_id = zone["HostedZone"]["Id"]

    publish(route53, zone_id, record["Name"], "_elsewhere.acm-validations.aws.")
    assert status(certificates, arn) == "PENDING_VALIDATION"  # the wrong value
    publish(route53, zone_id, record["Name"].rstrip("."), record["Value"])
    assert status(certificates, arn) == "ISSUED"


def test_a_certificate_without_its_record_stays_pending(clients: tuple[Any, Any]) -> None:
    certificates, _ = clients
    arn = certificates.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")[
        "CertificateArn"
    ]
    for _ in range(3):
        assert status(certificates, arn) == "PENDING_VALIDATION"
