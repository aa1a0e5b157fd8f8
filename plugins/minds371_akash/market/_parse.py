"""Reading the marketplace's JSON (Console API, chain LCD/CLI, provider gateway) into models.

The Console API and the ``akash … -o json`` output share the chain's shapes (``{"bid": {"id": …}}``,
``{"lease": …}``), with a few differences handled here: Console nests a lease's fields at the top
of each item with a live ``status``; the chain nests them under ``lease`` beside an
``escrow_payment``. Anything malformed becomes a :class:`~minds371.errors.MarketError`, never a
``KeyError`` escaping to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import pydantic

from minds371.errors import MarketError
from minds371_akash.market._models import (
    Bid,
    Deployment,
    Escrow,
    ForwardedPort,
    KubeEvent,
    Lease,
    LeasedIP,
    LeaseId,
    LeaseStatus,
    LogLine,
    Price,
    Provider,
    ResourceOffer,
    ServiceStatus,
    version_of_hash,
)

__all__ = [
    "guarded",
    "parse_bid",
    "parse_deployment",
    "parse_deployment_version",
    "parse_kube_event",
    "parse_lease",
    "parse_lease_status",
    "parse_log_line",
    "parse_provider",
]

T = TypeVar("T")


def guarded(what: str, fn: Callable[[Any], T], value: Any) -> T:
    """Run a parser; turn any shape error into a non-retryable :class:`MarketError`."""
    try:
        return fn(value)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise MarketError(
            f"the marketplace returned a malformed {what}: {exc!r}", details={"what": what}
        ) from exc
    except pydantic.ValidationError as exc:
        raise MarketError(
            f"the marketplace returned a malformed {what}: {exc.errors(include_url=False)[:3]}",
            details={"what": what},
        ) from exc


def _int(value: Any, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise TypeError("boolean where an integer was expected")
    if isinstance(value, str):
        return int(Decimal(value))
    return int(value)


def _dec(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value))


def _price(obj: Mapping[str, Any] | None) -> Price:
    obj = obj or {}
    return Price(denom=str(obj.get("denom", "")), amount=_dec(obj.get("amount")))


def _lease_id(obj: Mapping[str, Any]) -> LeaseId:
    return LeaseId(
        owner=str(obj.get("owner", "")),
        dseq=_int(obj["dseq"]),
        gseq=_int(obj["gseq"]),
        oseq=_int(obj["oseq"]),
        provider=str(obj["provider"]),
        bseq=_int(obj.get("bseq")),
    )


def _val(obj: Mapping[str, Any] | None, key: str) -> int:
    inner = (obj or {}).get(key) or {}
    return _int(inner.get("val"))


def _offer(item: Mapping[str, Any]) -> ResourceOffer:
    res = item.get("resources") or {}
    memory = res.get("memory") or {}
    storage = res.get("storage") or []
    gpu = res.get("gpu") or {}
    mem_key = "quantity" if "quantity" in memory else "size"
    return ResourceOffer(
        cpu_millis=_val(res.get("cpu"), "units"),
        memory_bytes=_val(memory, mem_key),
        storage_bytes=sum(_val(s, "quantity" if "quantity" in s else "size") for s in storage),
        gpu_units=_val(gpu, "units"),
        gpu_attributes=tuple(str(a.get("key", "")) for a in gpu.get("attributes") or []),
        count=_int(item.get("count"), 1),
    )


def parse_bid(item: Mapping[str, Any]) -> Bid:
    """``{"bid": {id, state, price, created_at, resources_offer}, "escrow_account": …}``."""
    bid = item.get("bid", item)
    return Bid(
        id=_lease_id(bid["id"]),
        state=str(bid.get("state", "")),
        price=_price(bid.get("price")),
        created_at=_int(bid.get("created_at")),
        resources=tuple(_offer(o) for o in bid.get("resources_offer") or []),
    )


def parse_lease_status(obj: Mapping[str, Any]) -> LeaseStatus:
    """The provider gateway's LeaseStatus JSON (Go tags) or Console's copy of it."""
    services = {
        str(name): ServiceStatus(
            name=str(svc.get("name") or name),
            available=_int(svc.get("available")),
            total=_int(svc.get("total")),
            uris=tuple(str(u) for u in svc.get("uris") or []),
            replicas=_int(svc.get("replicas")),
            ready_replicas=_int(svc.get("ready_replicas")),
            available_replicas=_int(svc.get("available_replicas")),
            updated_replicas=_int(svc.get("updated_replicas")),
            observed_generation=_int(svc.get("observed_generation")),
        )
        for name, svc in (obj.get("services") or {}).items()
    }
    ports = {
        str(name): tuple(
            ForwardedPort(
                host=str(p.get("host") or ""),
                port=_int(p.get("port")),
                external_port=_int(p.get("externalPort")),
                proto=str(p.get("proto") or "TCP"),
                name=str(p.get("name") or name),
            )
            for p in entries or []
        )
        for name, entries in (obj.get("forwarded_ports") or {}).items()
    }
    ips = {
        str(name): tuple(
            LeasedIP(
                ip=str(p.get("IP", "")),
                port=_int(p.get("Port")),
                external_port=_int(p.get("ExternalPort")),
                protocol=str(p.get("Protocol") or "TCP"),
            )
            for p in entries or []
        )
        for name, entries in (obj.get("ips") or {}).items()
    }
    errors = tuple(str(e) for e in obj.get("errors") or [])
    return LeaseStatus(services=services, forwarded_ports=ports, ips=ips, errors=errors)


def parse_lease(item: Mapping[str, Any]) -> Lease:
    """A Console lease item (flat, with ``status``) or a chain one (``{"lease": …}``)."""
    lease = item.get("lease", item)
    status = item.get("status", lease.get("status"))
    return Lease(
        id=_lease_id(lease["id"]),
        state=str(lease.get("state", "")),
        price=_price(lease.get("price")),
        created_at=_int(lease.get("created_at")),
        closed_on=_int(lease.get("closed_on")),
        reason=str(lease.get("reason") or ""),
        status=parse_lease_status(status) if isinstance(status, Mapping) else None,
    )


def _escrow(obj: Mapping[str, Any] | None) -> Escrow | None:
    if not obj:
        return None
    state = obj.get("state", obj)
    funds = state.get("funds") or []
    transferred = state.get("transferred") or []
    denom = str(funds[0].get("denom", "uact")) if funds else "uact"
    return Escrow(
        state=str(state.get("state", "")),
        denom=denom,
        funds=sum((_dec(f.get("amount")) for f in funds), Decimal(0)),
        transferred=sum((_dec(t.get("amount")) for t in transferred), Decimal(0)),
        settled_at=_int(state.get("settled_at")),
    )


def parse_deployment(obj: Mapping[str, Any], leases: list[Any] | None = None) -> Deployment:
    """``{deployment: {id, state, hash, created_at}, leases: [...], escrow_account: {...}}``."""
    dep = obj["deployment"]
    raw_leases = obj.get("leases") if leases is None else leases
    return Deployment(
        owner=str(dep["id"].get("owner", "")),
        dseq=_int(dep["id"]["dseq"]),
        state=str(dep.get("state", "")),
        hash=str(dep.get("hash") or ""),
        created_at=_int(dep.get("created_at")),
        leases=tuple(parse_lease(x) for x in raw_leases or []),
        escrow=_escrow(obj.get("escrow_account")),
    )


def parse_deployment_version(obj: Mapping[str, Any]) -> tuple[int, str]:
    """A deployment item's dseq and manifest version, without its leases and escrow."""
    dep = obj["deployment"]
    return _int(dep["id"]["dseq"]), version_of_hash(str(dep.get("hash") or ""))


def _uptime(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_provider(obj: Mapping[str, Any]) -> Provider:
    """A Console provider object (``hostUri``, ``isOnline`` …) or a chain ``{"provider": …}``."""
    obj = obj.get("provider", obj)
    gpus = tuple(
        f"{g.get('vendor', '')}/{g.get('model', '')}".lower() for g in obj.get("gpuModels") or []
    )
    return Provider(
        address=str(obj["owner"]),
        host_uri=str(obj.get("hostUri") or obj.get("host_uri") or ""),
        online=bool(obj.get("isOnline", True)),
        audited=bool(obj.get("isAudited", False)),
        attributes={str(a["key"]): str(a["value"]) for a in obj.get("attributes") or []},
        uptime_1d=_uptime(obj.get("uptime1d")),
        uptime_7d=_uptime(obj.get("uptime7d")),
        uptime_30d=_uptime(obj.get("uptime30d")),
        gpu_models=gpus,
        name=str(obj.get("name") or ""),
    )


def parse_log_line(obj: Mapping[str, Any]) -> LogLine:
    """A gateway log frame ``{"name": <pod>, "message": <line>}``."""
    return LogLine(name=str(obj.get("name", "")), message=str(obj.get("message", "")))


def parse_kube_event(obj: Mapping[str, Any]) -> KubeEvent:
    """A gateway kubeevents frame."""
    target = obj.get("object") or {}
    return KubeEvent(
        type=str(obj.get("type", "")),
        reason=str(obj.get("reason", "")),
        note=str(obj.get("note", "")),
        kind=str(target.get("kind", "")),
        name=str(target.get("name", "")),
        reporting_controller=str(obj.get("reportingController", "")),
    )
