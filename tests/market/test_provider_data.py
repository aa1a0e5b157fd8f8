"""Provider data is checked when it arrives: endpoints from lease status are bounded and unique."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from minds371_akash.market import Deployment, Lease, LeaseId, Price
from minds371_akash.market._models import MAX_ENDPOINTS
from minds371_akash.market._parse import parse_lease_status
from minds371_sandbox._identity import bech32_encode

PROVIDER = bech32_encode("akash", bytes([7]) * 20)


def _deployment(status: dict[str, Any], leases: int = 1) -> Deployment:
    return Deployment(
        owner=bech32_encode("akash", bytes(20)),
        dseq=9,
        state="active",
        leases=tuple(
            Lease(
                id=LeaseId(owner="o", dseq=9, gseq=g, oseq=1, provider=PROVIDER),
                state="active",
                price=Price(denom="uact", amount=Decimal(1)),
                status=parse_lease_status(status),
            )
            for g in range(1, leases + 1)
        ),
    )


def test_a_provider_reporting_thousands_of_ports_gives_at_most_the_registry_limit() -> None:
    ports = [
        {"host": "p.example.com", "port": 22, "externalPort": 30000 + i, "proto": "TCP"}
        for i in range(1000)
    ]
    deployment = _deployment({"services": {}, "forwarded_ports": {"web": ports}})
    urls = [e.url for e in deployment.endpoints()]
    assert len(urls) == MAX_ENDPOINTS == 64
    assert urls[0] == "tcp://p.example.com:30000"


def test_the_same_endpoint_reported_twice_is_kept_once() -> None:
    status = {"services": {"web": {"name": "web", "uris": ["a.example.com", "a.example.com"]}}}
    deployment = _deployment(status, leases=2)
    assert [e.url for e in deployment.endpoints()] == ["http://a.example.com"]
