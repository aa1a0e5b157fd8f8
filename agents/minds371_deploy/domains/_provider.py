"""The DNS provider protocol: put one A or CNAME record at a name, or take it away."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = ["DnsProvider", "DnsRecord", "RecordType"]

RecordType = Literal["A", "CNAME"]


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One address record.

    Attributes:
        name: The fully qualified name, without the final dot (``app.example.com``).
        type: ``CNAME`` (to a provider's ingress host) or ``A`` (to a leased IP).
        content: The target host name (CNAME) or IPv4 address (A).
        ttl: Seconds resolvers may cache it: short, because failovers move it.
        proxied: Served through the DNS provider's own TLS-terminating proxy (Cloudflare).
    """

    name: str
    type: RecordType
    content: str
    ttl: int = 60
    proxied: bool = False


@runtime_checkable
class DnsProvider(Protocol):
    """Where a domain's records are kept.

    A name holds at most one of A or CNAME (a CNAME cannot share its name), so :meth:`upsert`
    replaces both kinds and :meth:`delete` removes both.

    Attributes:
        kind: ``rfc2136`` or ``cloudflare`` (for messages and the saga).
        terminates_tls: Whether it can serve a record through a proxy that terminates TLS
            for the name (a ``proxied`` record).
    """

    kind: str
    terminates_tls: bool

    async def check(self, name: str) -> None:
        """Fail now if records at ``name`` could not be written later; changes nothing.

        Raises:
            ConfigurationError: a wrong key or token, a name outside the zone.
            ProviderError: the DNS service did not answer (``retryable``).
        """
        ...

    async def upsert(self, record: DnsRecord) -> None:
        """Make ``record`` the only A/CNAME record at its name."""
        ...

    async def delete(self, name: str) -> None:
        """Remove every A and CNAME record at ``name`` (none there is not an error)."""
        ...
