"""Render world records in the Console API's JSON shapes (``reference/akash.md`` §1, the OpenAPI).

Numbers follow the chain's conventions: heights and dseqs as decimal strings, prices as DecCoin
strings with 18 decimals, the version hash in base64.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from minds371_sandbox._hub import Hub
from minds371_sandbox._providers import ProviderSpec
from minds371_sandbox._records import Bid, Deployment, Group, Lease, Order
from minds371_sandbox._workloads import lease_status

__all__ = [
    "bid_view",
    "coin",
    "dec18",
    "deployment_record",
    "deployment_view",
    "escrow_view",
    "lease_view",
    "provider_view",
    "resources_offer",
]

_ENDPOINT_KINDS = {0: "SHARED_HTTP", 1: "RANDOM_PORT", 2: "LEASED_IP"}


def dec18(amount: Decimal) -> str:
    """A DecCoin amount as the chain's JSON shows it (18 decimals)."""
    return f"{amount:.18f}"


def coin(amount: Decimal, denom: str = "uact") -> dict[str, str]:
    """A ``{denom, amount}`` DecCoin."""
    return {"denom": denom, "amount": dec18(amount)}


def escrow_view(dep: Deployment) -> dict[str, Any]:
    """The deployment's ``escrow_account``."""
    escrow = dep.escrow
    return {
        "id": {"scope": "deployment", "xid": f"{dep.owner}/{dep.dseq}"},
        "state": {
            "owner": dep.owner,
            "state": escrow.state,
            "transferred": [coin(escrow.transferred)],
            "settled_at": str(escrow.settled_at),
            "funds": [coin(escrow.funds)],
            "deposits": [
                {
                    "owner": d["owner"],
                    "height": d["height"],
                    "source": d["source"],
                    "balance": coin(Decimal(d["amount"])),
                }
                for d in escrow.deposits
            ],
        },
    }


def lease_view(hub: Hub, dep: Deployment, lease: Lease, *, with_status: bool) -> dict[str, Any]:
    """One entry of a Console ``Deployment.leases``; ``status`` is fetched from the provider."""
    view: dict[str, Any] = {
        "id": {
            "owner": dep.owner,
            "dseq": str(dep.dseq),
            "gseq": lease.gseq,
            "oseq": lease.oseq,
            "provider": lease.provider,
            "bseq": 0,
        },
        "state": lease.state,
        "price": coin(lease.price),
        "created_at": str(lease.created_at),
        "closed_on": str(lease.closed_on),
    }
    if lease.reason:
        view["reason"] = lease.reason
    if with_status:
        provider = hub.world.providers.get(lease.provider)
        status = None
        # Console answers null when the provider cannot be asked (offline, or its status call
        # fails as injected gateway errors make it) or has nothing yet.
        reachable = hub.world.online.get(lease.provider) and not hub.roll(
            hub.faults.gateway_error_rate
        )
        if provider is not None and reachable and lease.state == "active":
            status = lease_status(dep, lease, provider, hub.world.height, hub.world.config)
        view["status"] = status
    return view


def deployment_record(dep: Deployment) -> dict[str, Any]:
    """The chain's ``Deployment`` record, as the Console API and the LCD both show it."""
    return {
        "id": {"owner": dep.owner, "dseq": str(dep.dseq)},
        "state": dep.state,
        "hash": base64.b64encode(dep.hash).decode(),
        "created_at": str(dep.created_at),
    }


def deployment_view(hub: Hub, dep: Deployment, *, with_status: bool = True) -> dict[str, Any]:
    """A Console ``Deployment`` (``{deployment, leases, escrow_account}``)."""
    return {
        "deployment": deployment_record(dep),
        "leases": [lease_view(hub, dep, lease, with_status=with_status) for lease in dep.leases],
        "escrow_account": escrow_view(dep),
    }


def _attrs(items: Any) -> list[dict[str, str]]:
    return [{"key": str(a["key"]), "value": str(a["value"])} for a in items or []]


def _quantity(obj: Mapping[str, Any] | None) -> dict[str, str]:
    inner = (obj or {}).get("size") or (obj or {}).get("quantity") or {"val": "0"}
    return {"val": str(inner.get("val", "0"))}


def resources_offer(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A bid's ``resources_offer``: what the provider offers, unit by unit (LCD spelling)."""
    offer = []
    for unit in spec.get("resources") or []:
        res = unit.get("resource") or {}
        cpu, gpu, memory = res.get("cpu") or {}, res.get("gpu") or {}, res.get("memory") or {}
        offer.append(
            {
                "resources": {
                    "cpu": {
                        "units": _quantity({"size": cpu.get("units")}),
                        "attributes": _attrs(cpu.get("attributes")),
                    },
                    "gpu": {
                        "units": _quantity({"size": gpu.get("units")}),
                        "attributes": _attrs(gpu.get("attributes")),
                    },
                    "memory": {
                        "quantity": _quantity(memory),
                        "attributes": _attrs(memory.get("attributes")),
                    },
                    "storage": [
                        {
                            "name": s.get("name", "default"),
                            "quantity": _quantity(s),
                            "attributes": _attrs(s.get("attributes")),
                        }
                        for s in res.get("storage") or []
                    ],
                    "endpoints": [
                        {
                            "kind": _ENDPOINT_KINDS.get(int(e.get("kind", 0)), "SHARED_HTTP"),
                            "sequence_number": int(e.get("sequence_number", 0)),
                        }
                        for e in res.get("endpoints") or []
                    ],
                },
                "count": int(unit.get("count", 1)),
            }
        )
    return offer


def bid_view(hub: Hub, dep: Deployment, group: Group, order: Order, bid: Bid) -> dict[str, Any]:
    """A Console ``Bid`` (``{bid, escrow_account}``); its escrow holds the provider's deposit."""
    bid_id = {
        "owner": dep.owner,
        "dseq": str(dep.dseq),
        "gseq": group.gseq,
        "oseq": order.oseq,
        "provider": bid.provider,
        "bseq": 0,
    }
    escrow_state = "open" if bid.state in ("open", "active") else "closed"
    return {
        "bid": {
            "id": bid_id,
            "state": bid.state,
            "price": coin(bid.price),
            "created_at": str(bid.created_at),
            "resources_offer": resources_offer(group.spec),
        },
        "escrow_account": {
            "id": {
                "scope": "bid",
                "xid": f"{dep.owner}/{dep.dseq}/{group.gseq}/{order.oseq}/{bid.provider}/0",
            },
            "state": {
                "owner": bid.provider,
                "state": escrow_state,
                "transferred": [coin(Decimal(0))],
                "settled_at": str(bid.created_at),
                "funds": [coin(Decimal(500_000) if escrow_state == "open" else Decimal(0))],
                "deposits": [],
            },
        },
    }


def provider_view(
    hub: Hub, spec: ProviderSpec, base_url: str, *, detail: bool = False
) -> dict[str, Any]:
    """A Console provider object (``GET /v1/providers[/{address}]``)."""
    online = bool(hub.world.online.get(spec.address))
    usage = hub.world.usage(spec.address)
    cap = spec.capacity
    gpu_total = sum(g.units for g in spec.gpu_models)
    gpu_used = sum(hub.world.gpu_usage(spec.address).values())
    active = [
        (d, lease)
        for d in hub.world.deployments_of()
        if d.state == "active"
        for lease in d.active_leases()
        if lease.provider == spec.address
    ]
    attributes = [
        {"key": k, "value": v, "auditedBy": list(spec.auditors)}
        for k, v in spec.all_attributes().items()
    ]
    view: dict[str, Any] = {
        "owner": spec.address,
        "name": spec.name,
        "hostUri": f"{base_url.rstrip('/')}/gateway/{spec.address}",
        "createdHeight": 1,
        "email": None,
        "website": None,
        "lastCheckDate": None,
        "deploymentCount": len({(d.owner, d.dseq) for d, _ in active}),
        "leaseCount": len(active),
        "cosmosSdkVersion": "v0.53.0",
        "akashVersion": "v2.1.0",
        "ipRegion": spec.region,
        "ipRegionCode": spec.region,
        "ipCountry": spec.country,
        "ipCountryCode": spec.country,
        "ipLat": None,
        "ipLon": None,
        "uptime1d": spec.uptime if online else 0.0,
        "uptime7d": spec.uptime,
        "uptime30d": spec.uptime,
        "isValidVersion": True,
        "isOnline": online,
        "lastOnlineDate": None,
        "isAudited": spec.audited,
        "gpuModels": [
            {"vendor": g.vendor, "model": g.model, "ram": g.ram, "interface": g.interface}
            for g in spec.gpu_models
        ],
        "attributes": attributes,
        "host": spec.hostname,
        "organization": spec.name,
        "statusPage": None,
        "locationRegion": spec.region,
        "country": spec.country,
        "city": None,
        "timezone": None,
        "locationType": "datacenter",
        "hostingProvider": None,
        "hardwareCpu": None,
        "hardwareCpuArch": "x86_64",
        "hardwareGpuVendor": "nvidia" if spec.gpu_models else None,
        "hardwareGpuModels": [g.model for g in spec.gpu_models],
        "hardwareDisk": [],
        "featPersistentStorage": any(c != "ram" for c in spec.storage_classes),
        "featPersistentStorageType": [c for c in spec.storage_classes if c != "ram"],
        "hardwareMemory": None,
        "networkProvider": None,
        "networkSpeedDown": 1000,
        "networkSpeedUp": 1000,
        "tier": spec.all_attributes().get("tier"),
        "featEndpointCustomDomain": True,
        "workloadSupportChia": False,
        "workloadSupportChiaCapabilities": [],
        "featEndpointIp": spec.ip_leases,
    }
    if detail:
        view["stats"] = {
            "cpu": {
                "active": usage.get("cpu", 0),
                "available": cap.cpu_millicores - usage.get("cpu", 0),
                "pending": 0,
            },
            "gpu": {"active": gpu_used, "available": gpu_total - gpu_used, "pending": 0},
            "memory": {
                "active": usage.get("memory", 0),
                "available": cap.memory_bytes - usage.get("memory", 0),
                "pending": 0,
            },
            "storage": {
                "ephemeral": {
                    "active": usage.get("storage", 0),
                    "available": cap.storage_bytes - usage.get("storage", 0),
                    "pending": 0,
                },
                "persistent": {
                    "active": usage.get("persistent", 0),
                    "available": cap.persistent_storage_bytes - usage.get("persistent", 0),
                    "pending": 0,
                },
            },
        }
        view["uptime"] = []
    return view
