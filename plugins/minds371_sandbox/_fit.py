"""Whether a provider bids on an order, and at what price.

The checks mirror the Go provider's bid engine (``provider:bidengine/order.go``) in the order it
runs them; each refusal carries the provider's own log wording so that a diagnosis can quote it.
Orders are read from GroupSpec JSON (the Go JSON of ``group-specs.json`` fixtures; the LCD's
``quantity`` spelling is accepted too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from minds371_sandbox._providers import GIB, ProviderSpec

__all__ = [
    "Decision",
    "GpuRequest",
    "OrderNeeds",
    "decide",
    "gpu_models_used",
    "max_price",
    "order_needs",
    "spec_resources",
]

_PRICE_STEP = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class GpuRequest:
    """GPUs one resource unit asks for: ``units`` of any of ``models`` (empty = any)."""

    units: int
    vendor: str
    models: tuple[tuple[str, str | None, str | None], ...]  # (model, ram, interface)


@dataclass(slots=True)
class OrderNeeds:
    """The totals of a group spec, over every resource unit times its count."""

    cpu_millicores: int = 0
    memory_bytes: int = 0
    storage_bytes: int = 0
    persistent_storage_bytes: int = 0
    storage_classes: set[str] = field(default_factory=set)
    gpus: list[tuple[int, GpuRequest]] = field(default_factory=list)  # (count, request)
    ports: int = 0
    ips: int = 0
    max_price: Decimal = Decimal(0)
    denoms: set[str] = field(default_factory=set)
    attributes: dict[str, str] = field(default_factory=dict)
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """A provider's answer to an order: a price to bid, or the reason it does not bid."""

    price: Decimal | None
    reason: str

    @property
    def bids(self) -> bool:
        """Whether the provider bids."""
        return self.price is not None


def _val(obj: Mapping[str, Any] | None, *keys: str) -> int:
    if not obj:
        return 0
    for key in keys:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and "val" in inner:
            return int(str(inner["val"]))
    return 0


def _gpu_request(gpu: Mapping[str, Any] | None) -> GpuRequest | None:
    units = _val(gpu, "units")
    if not gpu or units <= 0:
        return None
    vendor = "nvidia"
    models: list[tuple[str, str | None, str | None]] = []
    for attr in gpu.get("attributes") or []:
        parts = str(attr.get("key", "")).split("/")
        if len(parts) < 2 or parts[0] != "vendor":
            continue
        vendor = parts[1]
        pairs = dict(zip(parts[2::2], parts[3::2], strict=False))
        model = pairs.get("model")
        if model and model != "*":
            models.append((model, pairs.get("ram"), pairs.get("interface")))
    return GpuRequest(units=units, vendor=vendor, models=tuple(models))


def order_needs(spec: Mapping[str, Any]) -> OrderNeeds:
    """Sum what a GroupSpec asks for.

    Raises:
        ValueError: If a quantity or price in the spec is not a number.
    """
    needs = OrderNeeds()
    requirements = spec.get("requirements") or {}
    for attr in requirements.get("attributes") or []:
        needs.attributes[str(attr["key"])] = str(attr["value"])
    signed = requirements.get("signed_by") or {}
    needs.all_of = tuple(signed.get("all_of") or ())
    needs.any_of = tuple(signed.get("any_of") or ())
    for unit in spec.get("resources") or []:
        count = int(unit.get("count", 1))
        res = unit.get("resource") or {}
        needs.cpu_millicores += count * _val(res.get("cpu"), "units")
        needs.memory_bytes += count * _val(res.get("memory"), "size", "quantity")
        for volume in res.get("storage") or []:
            size = count * _val(volume, "size", "quantity")
            attrs = {a["key"]: a["value"] for a in volume.get("attributes") or []}
            if attrs.get("persistent") == "true":
                needs.persistent_storage_bytes += size
            else:
                needs.storage_bytes += size
            if "class" in attrs:
                needs.storage_classes.add(str(attrs["class"]))
        gpu = _gpu_request(res.get("gpu"))
        if gpu is not None:
            needs.gpus.append((count, gpu))
        for endpoint in res.get("endpoints") or []:
            kind = endpoint.get("kind", 0)
            if kind in (1, "RANDOM_PORT"):
                needs.ports += count
            elif kind in (2, "LEASED_IP"):
                needs.ips += 1
        price = unit.get("price") or {}
        try:
            needs.max_price += Decimal(str(price.get("amount", "0"))) * count
        except InvalidOperation as exc:
            raise ValueError(f"invalid price amount {price.get('amount')!r}") from exc
        needs.denoms.add(str(price.get("denom", "")))
    return needs


def _gpu_price(
    provider: ProviderSpec, request: GpuRequest, free: Mapping[str, int]
) -> Decimal | None:
    """The per-GPU price of the cheapest matching model with enough free units, if any."""
    best: Decimal | None = None
    for gpu in provider.gpu_models:
        if gpu.vendor != request.vendor or free.get(gpu.model, 0) < request.units:
            continue
        if request.models and not any(
            model == gpu.model and (ram in (None, gpu.ram)) and (iface in (None, gpu.interface))
            for model, ram, iface in request.models
        ):
            continue
        if best is None or gpu.price < best:
            best = gpu.price
    return best


def _scale_cost(provider: ProviderSpec, needs: OrderNeeds, gpu_cost: Decimal) -> Decimal:
    rates = provider.pricing
    return (
        Decimal(needs.cpu_millicores) / 1000 * rates.cpu_per_core
        + Decimal(needs.memory_bytes) / GIB * rates.memory_per_gib
        + Decimal(needs.storage_bytes) / GIB * rates.storage_per_gib
        + Decimal(needs.persistent_storage_bytes) / GIB * rates.persistent_storage_per_gib
        + needs.ports * rates.endpoint_per_port
        + needs.ips * rates.ip_per_lease
        + gpu_cost
    )


def _requirements_refusal(provider: ProviderSpec, needs: OrderNeeds) -> str | None:
    if needs.denoms - {"uact"}:
        return "Unsupported Denomination"
    attributes = provider.all_attributes()
    for key, value in needs.attributes.items():
        if attributes.get(key) != value:
            return "incompatible provider/order attributes"
    auditors = set(provider.auditors)
    if needs.all_of and not set(needs.all_of) <= auditors:
        return "attribute signature requirements not met"
    if needs.any_of and not set(needs.any_of) & auditors:
        return "attribute signature requirements not met"
    unsupported = needs.storage_classes - set(provider.storage_classes)
    if unsupported:
        return f"unsupported storage class {sorted(unsupported)[0]}"
    if needs.ips and not provider.ip_leases:
        return "IP leases unsupported"
    return None


def decide(
    provider: ProviderSpec,
    spec: Mapping[str, Any],
    *,
    used: Mapping[str, int],
    used_gpus: Mapping[str, int],
    online: bool,
) -> Decision:
    """Whether ``provider`` bids on an order for ``spec``, given what its active leases use.

    Args:
        provider: The provider deciding.
        spec: The order's GroupSpec (Go JSON).
        used: Resources held by its leases: ``cpu``, ``memory``, ``storage``, ``persistent``.
        used_gpus: GPUs held per model.
        online: Whether the provider is online now (an offline provider never bids).
    """
    if not online:
        return Decision(None, "provider offline")
    try:
        needs = order_needs(spec)
    except (ValueError, TypeError, KeyError):
        return Decision(None, "invalid order")
    refusal = _requirements_refusal(provider, needs)
    if refusal:
        return Decision(None, refusal)
    cap = provider.capacity
    if (
        needs.cpu_millicores > cap.cpu_millicores - used.get("cpu", 0)
        or needs.memory_bytes > cap.memory_bytes - used.get("memory", 0)
        or needs.storage_bytes > cap.storage_bytes - used.get("storage", 0)
        or needs.persistent_storage_bytes > cap.persistent_storage_bytes - used.get("persistent", 0)
    ):
        return Decision(None, "insufficient capacity")
    free = {g.model: g.units - used_gpus.get(g.model, 0) for g in provider.gpu_models}
    gpu_cost = Decimal(0)
    for count, request in needs.gpus:
        per_gpu = _gpu_price(provider, request, free)
        if per_gpu is None:
            return Decision(None, "insufficient capacity: no GPU of the requested model")
        gpu_cost += per_gpu * request.units * count
    cost = _scale_cost(provider, needs, gpu_cost)
    pricing = provider.pricing
    if pricing.strategy == "fixed":
        price = max(pricing.fixed_amount, gpu_cost)
    elif pricing.strategy == "fraction":
        price = max(needs.max_price * pricing.fraction, cost)
    else:
        price = cost
    price = max(price.quantize(_PRICE_STEP, rounding=ROUND_UP), _PRICE_STEP)
    if price > needs.max_price:
        return Decision(None, "Price too high, not bidding")
    return Decision(price, "bid")


def gpu_models_used(spec: Mapping[str, Any], provider: ProviderSpec) -> dict[str, int]:
    """Which of the provider's GPU models a lease on ``spec`` holds, and how many."""
    needs = order_needs(spec)
    free = {g.model: g.units for g in provider.gpu_models}
    held: dict[str, int] = {}
    for count, request in needs.gpus:
        for gpu in sorted(provider.gpu_models, key=lambda g: g.price):
            matches = not request.models or any(
                m == gpu.model and ram in (None, gpu.ram) and iface in (None, gpu.interface)
                for m, ram, iface in request.models
            )
            if matches and gpu.vendor == request.vendor and free[gpu.model] >= request.units:
                held[gpu.model] = held.get(gpu.model, 0) + request.units * count
                break
    return held


def spec_resources(spec: Mapping[str, Any]) -> dict[str, int]:
    """The ``used`` totals a lease on ``spec`` holds."""
    needs = order_needs(spec)
    return {
        "cpu": needs.cpu_millicores,
        "memory": needs.memory_bytes,
        "storage": needs.storage_bytes,
        "persistent": needs.persistent_storage_bytes,
    }


def max_price(spec: Mapping[str, Any]) -> Decimal:
    """The order's maximum price per block: the sum of every unit's price times its count."""
    return order_needs(spec).max_price
