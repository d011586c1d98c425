"""ACM's DNS validation as AWS does it, added to moto at start-up.

moto issues a DNS-validated certificate 60 s after it was requested, whether or not anyone
created its validation record; AWS issues it once the validation CNAME resolves. So a module
that forgot the record would still deploy locally, only a minute later: modules/custom_domain
(and every apply of it in `make test`) waited those 60 s in Terraform's
`aws_acm_certificate_validation`. `install()` changes, in the running process only, when a
pending certificate that ACM issues (not an imported one) becomes `ISSUED`: as soon as every
one of its validation records is in a Route 53 hosted zone of the certificate's account, with
the value ACM asked for, and never otherwise. An expired certificate is `EXPIRED` as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.acm.models import CertBundle
from moto.core.utils import utcnow
from moto.route53.models import route53_backends

__all__ = ["install", "validated"]

_MARK = "_wslocal_extended"


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _value(record: Any) -> str:
    """A record's value, which moto keeps as given (a string or {"Value": ...})."""
    return str(record["Value"] if isinstance(record, dict) else record)


def _published(account_id: str, partition: str) -> set[tuple[str, str, str]]:
    """(name, type, value) of every record in the account's hosted zones."""
    backend = route53_backends[account_id][partition]
    return {
        (_fqdn(record.name), str(record.type).upper(), _fqdn(_value(value)))
        for zone in backend.zones.values()
        for record in zone.rrsets
        for value in record.records
    }


def validated(bundle: CertBundle) -> bool:
    """Whether every validation record ACM asks for of `bundle` is in Route 53."""
    _, partition, _, _, account_id, _ = bundle.arn.split(":", 5)
    options = bundle.describe()["Certificate"].get("DomainValidationOptions", [])
    wanted = {
        (
            _fqdn(option["ResourceRecord"]["Name"]),
            option["ResourceRecord"]["Type"].upper(),
            _fqdn(option["ResourceRecord"]["Value"]),
        )
        for option in options
    }
    return bool(wanted) and wanted <= _published(account_id, partition)


def _wrap_check(original: Callable[[CertBundle], None]) -> Callable[[CertBundle], None]:
    @functools.wraps(original)
    def check(self: CertBundle) -> None:
        if self.type != "AMAZON_ISSUED" or self.status != "PENDING_VALIDATION":
            original(self)
            return
        if self._not_valid_after(self._cert) <= utcnow():
            self.status = "EXPIRED"
        elif validated(self):
            self.status = "ISSUED"

    return check


def install() -> None:
    """Validate the certificates moto issues in this process by DNS. Idempotent."""
    if getattr(CertBundle, _MARK, False):
        return
    CertBundle.check = _wrap_check(CertBundle.check)  # type: ignore[method-assign,assignment]
    setattr(CertBundle, _MARK, True)
