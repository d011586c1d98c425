"""API Gateway v2 custom domain names as AWS reports them, added to moto at start-up.

moto 5 stores a domain name's configurations exactly as given, without the fields AWS adds:
the status, API Gateway's own domain name and hosted zone (what a DNS alias points at) and
the defaults. Terraform's `aws_apigatewayv2_domain_name` waits for the status `AVAILABLE`
and modules/custom_domain points its Route 53 alias at the regional domain name, so
`install()` completes each configuration when the domain name is created, in the running
process only: status `AVAILABLE`, `ApiGatewayDomainName` `d-<10 characters>.execute-api.
<region>.amazonaws.com`, the region's API Gateway hosted zone, endpoint type `REGIONAL`,
security policy `TLS_1_2` and IP address type `ipv4` unless given.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from moto.apigatewayv2.models import ApiGatewayV2Backend, DomainName

__all__ = ["REGIONAL_HOSTED_ZONES", "complete_configuration", "install"]

_MARK = "_wslocal_extended"

# API Gateway's hosted zones of regional endpoints (AWS General Reference), a few regions;
# others get a made-up zone of the same shape.
REGIONAL_HOSTED_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
}


def complete_configuration(
    domain_name: str, region: str, given: dict[str, Any] | None
) -> dict[str, Any]:
    """A domain name configuration with the fields AWS fills in."""
    config = dict(given or {})
    digest = hashlib.sha256(f"{region}/{domain_name}".encode()).hexdigest()[:10]
    config.setdefault("domainNameStatus", "AVAILABLE")
    config.setdefault("endpointType", "REGIONAL")
    config.setdefault("securityPolicy", "TLS_1_2")
    config.setdefault("ipAddressType", "ipv4")
    config.setdefault("apiGatewayDomainName", f"d-{digest}.execute-api.{region}.amazonaws.com")
    config.setdefault("hostedZoneId", REGIONAL_HOSTED_ZONES.get(region, f"Z{digest.upper()}LOCAL"))
    return config


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(
        self: DomainName,
        domain_name: str,
        domain_name_configurations: list[dict[str, Any]],
        mutual_tls_authentication: dict[str, str],
        tags: dict[str, str],
        backend: ApiGatewayV2Backend,
    ) -> None:
        configurations = [
            complete_configuration(domain_name, backend.region_name, given)
            for given in (domain_name_configurations or [{}])
        ]
        original(self, domain_name, configurations, mutual_tls_authentication, tags, backend)

    return init


def install() -> None:
    """Complete the domain names moto creates in this process. Idempotent."""
    if getattr(DomainName, _MARK, False):
        return
    DomainName.__init__ = _wrap_init(DomainName.__init__)  # type: ignore[method-assign]
    setattr(DomainName, _MARK, True)
