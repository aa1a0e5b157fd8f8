"""Frozen models that cross the :class:`~minds371_akash.market.MarketBackend` seam.

Prices are per block in micro-denominations (``uact`` on chain v2 and later), kept as
:class:`~decimal.Decimal` because the chain renders them as 18-decimal ``LegacyDec`` strings
(``"1000.000000000000000000"``). Heights and sequence numbers are plain integers; ``dseq`` is
rendered back as a decimal string only on the wire.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Bid",
    "CreatedDeployment",
    "Deployment",
    "Endpoint",
    "Escrow",
    "ForwardedPort",
    "KubeEvent",
    "LeaseId",
    "Lease",
    "LeaseStatus",
    "LeasedIP",
    "LogLine",
    "Price",
    "Provider",
    "ResourceOffer",
    "ServiceStatus",
    "version_of_hash",
]


MAX_ENDPOINTS = 64
"""Most endpoints a deployment reports (the registry records at most this many)."""

# A DNS name or an IPv4 address (labels of letters, digits and hyphens), nothing else.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_PROTO = re.compile(r"(?i)tcp|udp")


def _host(host: str) -> str | None:
    """``host`` as it goes in a URL, or ``None`` when it is not a plain name or address."""
    if _HOST.fullmatch(host):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return f"[{address}]" if address.version == 6 else str(address)


def _safe(host: str, proto: str, port: int) -> bool:
    return _host(host) is not None and bool(_PROTO.fullmatch(proto)) and 0 < port < 65536


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Frozen):
    """An amount of a micro-denomination; for bids and leases, the price per block.

    Attributes:
        denom: ``uact`` (chain v2+), ``uakt``, or a legacy ``ibc/…`` denomination.
        amount: Micro-units (1 ACT = 1,000,000 uact), possibly fractional.
    """

    denom: str
    amount: Decimal

    @property
    def plain(self) -> str:
        """The amount as people write it: ``6.9``, not the chain's 18 decimals."""
        return plain_decimal(self.amount)


def plain_decimal(amount: Decimal) -> str:
    """``amount`` without trailing zeros or an exponent (``6.900000000000000000`` → ``6.9``)."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


class LeaseId(_Frozen):
    """The identity of a bid, and of the lease created from it (same fields on chain).

    Attributes:
        owner: The deployment owner's ``akash1…`` address.
        dseq: Deployment sequence number.
        gseq: Group sequence (1-based, one group per placement name, sorted by name).
        oseq: Order sequence within the group; it grows when a closed lease's order reopens.
        provider: The provider's ``akash1…`` address.
        bseq: Bid sequence (0 on today's chain; copied through).
    """

    owner: str
    dseq: int
    gseq: int
    oseq: int
    provider: str
    bseq: int = 0

    @property
    def group(self) -> tuple[int, int]:
        """``(gseq, oseq)``: the order this bid or lease belongs to."""
        return (self.gseq, self.oseq)


class ResourceOffer(_Frozen):
    """One resource unit a provider offers in a bid, in base units."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    storage_bytes: int = 0
    gpu_units: int = 0
    gpu_attributes: tuple[str, ...] = ()
    count: int = 1


class Bid(_Frozen):
    """A provider's offer for one order of a deployment.

    Attributes:
        id: Who bids on which order.
        state: ``open``, ``active`` (leased), ``lost`` or ``closed``.
        price: Price per block asked for the whole group.
        created_at: Block height of the bid.
        resources: What the provider offers for the price.
    """

    id: LeaseId
    state: str
    price: Price
    created_at: int = 0
    resources: tuple[ResourceOffer, ...] = ()

    @property
    def provider(self) -> str:
        """The bidding provider's address."""
        return self.id.provider


class ServiceStatus(_Frozen):
    """A service's replicas and URIs as its provider reports them."""

    name: str
    available: int = 0
    total: int = 0
    uris: tuple[str, ...] = ()
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0
    observed_generation: int = 0

    @property
    def ready(self) -> bool:
        """Up when every requested replica is available (provider semantics)."""
        return self.total > 0 and self.available >= self.total


class ForwardedPort(_Frozen):
    """A non-HTTP (or non-80) port forwarded to a service."""

    host: str = ""
    port: int
    external_port: int
    proto: str = "TCP"
    name: str = ""


class LeasedIP(_Frozen):
    """A leased IP endpoint of a service."""

    ip: str
    port: int
    external_port: int
    protocol: str = "TCP"


class Endpoint(_Frozen):
    """One way to reach a service from outside.

    Attributes:
        service: The SDL service name.
        url: ``http://host`` for HTTP ingress, ``tcp://host:port`` / ``udp://…`` otherwise.
        kind: ``http``, ``port`` (forwarded port) or ``ip`` (leased IP).
        provider: The provider serving it.
        gseq: The group it belongs to.
    """

    service: str
    url: str
    kind: Literal["http", "port", "ip"]
    provider: str = ""
    gseq: int = 0


class LeaseStatus(_Frozen):
    """Live status of one lease from its provider's gateway."""

    services: Mapping[str, ServiceStatus] = Field(default_factory=dict)
    forwarded_ports: Mapping[str, tuple[ForwardedPort, ...]] = Field(default_factory=dict)
    ips: Mapping[str, tuple[LeasedIP, ...]] = Field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """Whether the lease runs at least one service and every service is ready."""
        return bool(self.services) and all(s.ready for s in self.services.values())

    @property
    def ready_count(self) -> tuple[int, int]:
        """``(ready services, services)``."""
        return (sum(s.ready for s in self.services.values()), len(self.services))

    def endpoints(self, *, provider: str = "", gseq: int = 0) -> list[Endpoint]:
        """Every endpoint of every service: ingress URIs, forwarded ports and leased IPs.

        What a provider reports is untrusted: hosts that are not plain host names or IPv4
        addresses (``$(…)``, spaces, paths, schemes) and out-of-range ports are left out, so no
        caller can be led to print or run them.
        """
        found: list[Endpoint] = []

        def add(service: str, url: str, kind: Literal["http", "port", "ip"]) -> None:
            endpoint = Endpoint(service=service, url=url, kind=kind, provider=provider, gseq=gseq)
            found.append(endpoint)

        for name in sorted(self.services):
            for uri in self.services[name].uris:
                if _HOST.fullmatch(uri):
                    add(name, f"http://{uri}", "http")
        for name in sorted(self.forwarded_ports):
            for fp in self.forwarded_ports[name]:
                if _safe(fp.host, fp.proto, fp.external_port):
                    url = f"{fp.proto.lower()}://{_host(fp.host)}:{fp.external_port}"
                    add(name, url, "port")
        for name in sorted(self.ips):
            for ip in self.ips[name]:
                if _safe(ip.ip, ip.protocol, ip.external_port):
                    add(name, f"{ip.protocol.lower()}://{_host(ip.ip)}:{ip.external_port}", "ip")
        return found


class Lease(_Frozen):
    """A lease: a winning bid, paid per block from the deployment's escrow.

    Attributes:
        id: Lease identity (same fields as the bid it came from).
        state: ``active``, ``insufficient_funds``, ``closed`` or ``reclaiming``.
        price: Price per block.
        created_at: Block height of the lease.
        closed_on: Block height it closed at (0 when open).
        reason: Close reason, if any (``lease_closed_reason_insufficient_funds`` …).
        status: Live status from the provider; ``None`` when it could not be fetched.
    """

    id: LeaseId
    state: str
    price: Price
    created_at: int = 0
    closed_on: int = 0
    reason: str = ""
    status: LeaseStatus | None = None

    @property
    def active(self) -> bool:
        """Whether the lease is still running (and being paid for).

        A ``reclaiming`` lease (v2.1) is in its grace period before closure and still runs
        (chain-sdk ``proto/node/akash/market/v1/lease.proto``): it is not closed.
        """
        return self.state in _RUNNING_LEASE_STATES


_RUNNING_LEASE_STATES = frozenset({"active", "reclaiming"})


class Escrow(_Frozen):
    """The deployment's escrow account: what is left to pay leases from."""

    state: str
    denom: str = "uact"
    funds: Decimal = Decimal(0)
    transferred: Decimal = Decimal(0)
    settled_at: int = 0


class Deployment(_Frozen):
    """A deployment with its leases (and, when fetched live, their status).

    Attributes:
        owner: Owner address.
        dseq: Deployment sequence number.
        state: ``active`` or ``closed``.
        hash: The manifest version hash as the chain shows it (base64 of 32 bytes).
        created_at: Block height of creation.
        leases: Every lease of the deployment, open or closed.
        escrow: The escrow account, when the backend reports it.
    """

    owner: str
    dseq: int
    state: str
    hash: str = ""
    created_at: int = 0
    leases: tuple[Lease, ...] = ()
    escrow: Escrow | None = None

    @property
    def active(self) -> bool:
        """Whether the deployment is open."""
        return self.state == "active"

    @property
    def version(self) -> str:
        """The manifest version hash as lower-case hex ('' when unknown or malformed)."""
        return version_of_hash(self.hash)

    @property
    def active_leases(self) -> tuple[Lease, ...]:
        """The leases still running."""
        return tuple(lease for lease in self.leases if lease.active)

    def endpoints(self) -> list[Endpoint]:
        """Endpoints of every active lease that reported a status.

        Provider data, so bounded on arrival: each URL once, at most :data:`MAX_ENDPOINTS` (the
        registry's limit per record), so a provider reporting thousands cannot make a paid
        deployment fail to register.
        """
        found: list[Endpoint] = []
        seen: set[str] = set()
        for lease in self.active_leases:
            if lease.status is None:
                continue
            for endpoint in lease.status.endpoints(provider=lease.id.provider, gseq=lease.id.gseq):
                if endpoint.url in seen or len(seen) >= MAX_ENDPOINTS:
                    continue
                seen.add(endpoint.url)
                found.append(endpoint)
        return found


class CreatedDeployment(_Frozen):
    """What creating a deployment returns.

    Attributes:
        dseq: The new deployment's sequence number.
        manifest: The manifest JSON string to send to providers, verbatim.
        owner: Owner address, when the backend knows it.
        tx_hash: The creating transaction, when the backend reports it.
        recovered: True when the deployment was found after an ambiguous failure of the
            create call rather than returned by it.
    """

    dseq: int
    manifest: str
    owner: str = ""
    tx_hash: str = ""
    recovered: bool = False


class Provider(_Frozen):
    """A provider as the marketplace describes it.

    Attributes:
        address: ``akash1…`` owner address.
        host_uri: Base URL of its gateway (``https://provider.example.com:8443``).
        online: Whether it answered its last status check.
        audited: Whether an auditor signed its attributes.
        attributes: Its on-chain attributes (``region``, ``host``, ``tier`` …).
        uptime_1d: Fraction of checks answered over a day (0 to 1), if known.
        uptime_7d: Over a week.
        uptime_30d: Over thirty days.
        gpu_models: GPU models it offers (``nvidia/h100``).
        name: A display name, if any.
    """

    address: str
    host_uri: str = ""
    online: bool = True
    audited: bool = False
    attributes: Mapping[str, str] = Field(default_factory=dict)
    uptime_1d: float | None = None
    uptime_7d: float | None = None
    uptime_30d: float | None = None
    gpu_models: tuple[str, ...] = ()
    name: str = ""

    @property
    def region(self) -> str:
        """The ``region`` attribute ('' when absent)."""
        return self.attributes.get("region", "")


class LogLine(_Frozen):
    """One log line from a lease (``{"name": <pod>, "message": <line>}`` on the gateway)."""

    name: str
    message: str

    @property
    def service(self) -> str:
        """The service the pod belongs to (pod names are ``<service>-<hash>-<id>``)."""
        parts = self.name.rsplit("-", 2)
        return parts[0] if len(parts) == 3 else self.name


class KubeEvent(_Frozen):
    """One Kubernetes event of a lease (image pulls, back-offs, scheduling …)."""

    type: str = ""
    reason: str = ""
    note: str = ""
    kind: str = ""
    name: str = ""
    reporting_controller: str = ""


def version_of_hash(hash: str) -> str:
    """A deployment's manifest version as lower-case hex, from the hash the chain shows.

    The chain shows base64 of 32 bytes; 64 hex digits are taken as they are; anything else is
    ``''`` (unknown or malformed).
    """
    try:
        raw = base64.b64decode(hash, validate=True)
    except (binascii.Error, ValueError):
        return hash.lower() if len(hash) == 64 else ""
    return raw.hex() if len(raw) == 32 else ""
