"""The harness never points at a real account without the explicit opt-in and what a real
run needs; and its cleanup command finds a run's state (no deployment here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import AcceptanceError, main, target_from_environment


def test_without_the_opt_in_the_target_is_the_local_emulator() -> None:
    target = target_from_environment(
        {"AWS_REGION": "eu-west-1", "ACCEPTANCE_BACKEND_URL": "https://b"}
    )
    assert not target.real


def test_a_real_run_needs_a_reachable_backend_and_no_endpoint_override() -> None:
    with pytest.raises(AcceptanceError, match="ACCEPTANCE_BACKEND_URL"):
        target_from_environment({"ACCEPTANCE_REAL_AWS": "1"})
    with pytest.raises(AcceptanceError, match="ACCEPTANCE_BACKEND_URL"):
        target_from_environment({"ACCEPTANCE_REAL_AWS": "1", "ACCEPTANCE_BACKEND_URL": "http://x"})
    with pytest.raises(AcceptanceError, match="AWS_ENDPOINT_URL"):
        target_from_environment(
            {
                "ACCEPTANCE_REAL_AWS": "1",
                "ACCEPTANCE_BACKEND_URL": "https://backend.example.com",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            }
        )
    target = target_from_environment(
        {
            "ACCEPTANCE_REAL_AWS": "1",
            "ACCEPTANCE_BACKEND_URL": "https://backend.example.com/",
            "AWS_REGION": "eu-west-1",
            "ACCEPTANCE_SESSIONS": "s1:u1,s2:u2",
        }
    )
    assert (target.real, target.region, target.backend_url) == (
        True,
        "eu-west-1",
        "https://backend.example.com",
    )
    assert target.sessions == ("s1:u1", "s2:u2")


def test_the_cleanup_command_finds_nothing_where_no_run_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--workdir", str(tmp_path)]) == 0
    assert "nothing to destroy" in capsys.readouterr().out


def test_leftovers_name_what_a_destroy_kept_of_the_session_store_and_the_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kinds test_system_parts.py no longer destroys itself: the acceptance run's destroy
    is the check that they go, so `leftovers` must see each of them."""
    import boto3
    from leftovers import leftovers
    from moto import mock_aws

    from wslocal.emulator import elasticache

    elasticache.install()  # user groups, which moto lacks and the local emulator adds

    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():

        def client(service: str) -> object:
            return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]

        assert leftovers(client, "run-7", None) == []
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]  # type: ignore[attr-defined]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]  # type: ignore[attr-defined]
        client("elasticache").create_cache_subnet_group(  # type: ignore[attr-defined]
            CacheSubnetGroupName="run-7-sessions",
            CacheSubnetGroupDescription="left",
            SubnetIds=[subnet],
        )
        client("elasticache").create_user(  # type: ignore[attr-defined]
            UserId="run-7-backend",
            UserName="run-7-backend",
            Engine="redis",
            AccessString="on ~* +@all",
            AuthenticationMode={"Type": "iam"},
        )
        client("elasticache").create_user_group(  # type: ignore[attr-defined]
            UserGroupId="run-7-sessions", Engine="redis", UserIds=["default", "run-7-backend"]
        )
        client("acm").request_certificate(DomainName="ws.run-7.example")  # type: ignore[attr-defined]
        client("route53").create_hosted_zone(Name="run-7.example", CallerReference="r")  # type: ignore[attr-defined]
        assert sorted(leftovers(client, "run-7", None)) == [
            "cache subnet group run-7-sessions",
            "certificate ws.run-7.example",
            "hosted zone run-7.example.",
            "user group run-7-sessions",
            "user run-7-backend",
        ]
