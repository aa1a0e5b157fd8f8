"""SDL rules on compute profiles, placement profiles and placement-group totals."""

from __future__ import annotations

from typing import Any

from minds371_akash.sdl._checks import (
    ATTRIBUTE_KEY,
    LIMITS,
    Checker,
    fmt_bytes,
    persistent_flag,
)
from minds371_akash.sdl._models import ComputeResources
from minds371_akash.sdl._units import (
    UnitError,
    parse_cpu_millis,
    parse_gpu_ram,
    parse_gpu_units,
    parse_price,
    parse_size,
    scalar_text,
)

__all__ = ["check_compute", "check_group_limits", "check_placement"]

_STORAGE_CLASSES = ("default", "beta1", "beta2", "beta3", "ram")


def check_compute(check: Checker, name: str, res: ComputeResources) -> None:
    """Check one compute profile: units, chain limits, storage and GPU rules."""
    base = f"/profiles/compute/{name}/resources"
    # Per-replica CPU millis, memory, storage and GPUs, kept for the group totals.
    amounts = check.amounts[name] = [0, 0, 0, 0]
    try:
        millis = parse_cpu_millis(res.cpu.units)
    except UnitError as exc:
        check.error(f"{base}/cpu/units", str(exc))
    else:
        amounts[0] = millis
        if not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
            check.error(
                f"{base}/cpu/units",
                f"{millis}m CPU is outside the chain's limits "
                f"({LIMITS.cpu_min}m to {LIMITS.cpu_max}m)",
            )
    for key, value in (res.cpu.attributes or {}).items():
        if key != "arch":
            check.error(f"{base}/cpu/attributes/{key}", "unsupported CPU attribute; use arch")
        elif not isinstance(value, str) or not value:
            check.error(f"{base}/cpu/attributes/{key}", "must be a non-empty string")
    _memory(check, base, res, amounts)
    _storage(check, base, res, amounts)
    _gpu(check, base, res, amounts)


def _memory(check: Checker, base: str, res: ComputeResources, amounts: list[int]) -> None:
    try:
        size = parse_size(res.memory.size, what="memory size")
    except UnitError as exc:
        check.error(f"{base}/memory/size", str(exc))
        return
    amounts[1] = size
    if not LIMITS.memory_min <= size <= LIMITS.memory_max:
        check.error(
            f"{base}/memory/size",
            f"memory {res.memory.size} is outside the chain's limits "
            f"({fmt_bytes(LIMITS.memory_min)} to {fmt_bytes(LIMITS.memory_max)})",
        )


def _storage(check: Checker, base: str, res: ComputeResources, amounts: list[int]) -> None:
    names: set[str] = set()
    for index, volume in enumerate(res.storage):
        path = f"{base}/storage/{index}"
        name = volume.name or "default"
        if name in names:
            check.error(f"{path}/name", f"duplicate volume name {name!r}; name each volume")
        names.add(name)
        try:
            size = parse_size(volume.size, what="storage size")
        except UnitError as exc:
            check.error(f"{path}/size", str(exc))
        else:
            amounts[2] += size
            if not LIMITS.storage_min <= size <= LIMITS.storage_max:
                check.error(
                    f"{path}/size",
                    f"storage {volume.size} is outside the chain's limits "
                    f"({fmt_bytes(LIMITS.storage_min)} to "
                    f"{fmt_bytes(LIMITS.storage_max)} per volume)",
                )
        attrs = volume.attributes
        if attrs is None:
            continue
        persistent = persistent_flag(attrs.persistent)
        if persistent is None:
            check.error(f"{path}/attributes/persistent", "must be true or false")
        if attrs.class_ is None:
            continue
        if attrs.class_ not in _STORAGE_CLASSES:
            check.error(
                f"{path}/attributes/class",
                f"unknown storage class {attrs.class_!r}; use one of "
                + ", ".join(_STORAGE_CLASSES),
            )
        elif attrs.class_ == "ram" and persistent:
            check.error(
                f"{path}/attributes/persistent",
                "RAM storage cannot be persistent; set persistent: false",
            )
        elif attrs.class_ != "ram" and persistent is False:
            check.error(
                f"{path}/attributes/class",
                f"class {attrs.class_!r} needs persistent: true (ephemeral storage takes no class)",
            )


def _gpu(check: Checker, base: str, res: ComputeResources, amounts: list[int]) -> None:
    gpu = res.gpu
    if gpu is None:
        return
    try:
        units = parse_gpu_units(gpu.units)
    except UnitError as exc:
        check.error(f"{base}/gpu/units", str(exc))
        return
    amounts[3] = units
    if units > LIMITS.gpu_max:
        check.error(f"{base}/gpu/units", f"at most {LIMITS.gpu_max} GPUs per unit")
    if units > 0 and gpu.attributes is None:
        check.error(
            f"{base}/gpu/attributes",
            "GPUs need attributes: add vendor: {nvidia: [{model: <model>}]} "
            "(or nvidia: null for any model)",
        )
    if units == 0 and gpu.attributes is not None:
        check.error(f"{base}/gpu/attributes", "GPU attributes need units greater than 0")
    if gpu.attributes is None:
        return
    vendor = gpu.attributes.vendor
    if "nvidia" not in vendor.model_fields_set:
        check.error(f"{base}/gpu/attributes/vendor", "name a vendor (nvidia)")
    for index, model in enumerate(vendor.nvidia or ()):
        path = f"{base}/gpu/attributes/vendor/nvidia/{index}"
        if not model.model:
            check.error(f"{path}/model", "name the GPU model (for example h100)")
        elif "/" in model.model:
            check.error(f"{path}/model", "a model name cannot contain '/'")
        if model.ram is not None:
            try:
                parse_gpu_ram(model.ram)
            except UnitError as exc:
                check.error(f"{path}/ram", str(exc))


def check_placement(check: Checker, name: str) -> None:
    """Check one placement profile: attributes, auditors and prices."""
    placement = check.sdl.profiles.placement[name]
    base = f"/profiles/placement/{name}"
    for key, value in (placement.attributes or {}).items():
        if not ATTRIBUTE_KEY.match(key):
            check.error(
                f"{base}/attributes/{key}",
                "attribute keys are 2-128 ASCII characters: a letter, then letters, digits, "
                "_ / . - (a trailing * is a wildcard)",
            )
        if scalar_text(value) == "":
            check.error(f"{base}/attributes/{key}", "attribute value must not be empty")
    signed = placement.signed_by
    for field, items in (
        ("allOf", signed.all_of if signed else None),
        ("anyOf", signed.any_of if signed else None),
    ):
        for index, item in enumerate(items or ()):
            if not item.strip():
                check.error(f"{base}/signedBy/{field}/{index}", "auditor address is empty")
    for profile, price in placement.pricing.items():
        path = f"{base}/pricing/{profile}"
        if profile not in check.sdl.profiles.compute:
            check.warn(path, f"no compute profile named {profile!r}; this price is unused")
        try:
            amount = parse_price(price.amount)
        except UnitError as exc:
            check.error(f"{path}/amount", str(exc))
            continue
        if amount > LIMITS.price_max:
            check.error(
                f"{path}/amount",
                f"at most {LIMITS.price_max} {price.denom} per block per unit",
            )
        elif amount == 0:
            check.warn(f"{path}/amount", "a price of 0 gets no bids")
        if price.denom == "uakt":
            check.warn(
                f"{path}/denom",
                "the chain refuses uakt for new deployments since v2.0; price in uact",
            )


def check_group_limits(check: Checker, units_by_group: dict[str, dict[str, list[Any]]]) -> None:
    """The chain's limits on groups: their number, units, replicas and total resources."""
    if len(units_by_group) > LIMITS.groups_max:
        check.error("/deployment", f"at most {LIMITS.groups_max} placement groups")
    for placement, units in units_by_group.items():
        path = f"/profiles/placement/{placement}"
        if len(units) > LIMITS.units_per_group_max:
            check.error(
                path, f"at most {LIMITS.units_per_group_max} resource units per placement group"
            )
        totals = [0, 0, 0, 0]  # cpu millis, memory, storage, gpus
        for profile_name, replicas in units.values():
            if replicas > LIMITS.count_max:
                # In SDL 2.1 the services sharing a profile in a placement share one unit.
                check.error(
                    path,
                    f"services using profile {profile_name!r} here total {replicas} replicas; "
                    f"the chain allows {LIMITS.count_max} per resource unit",
                )
            for index, amount in enumerate(check.amounts.get(profile_name, ())):
                totals[index] += amount * replicas
        maxima = (
            LIMITS.cpu_max * LIMITS.count_max,
            LIMITS.memory_max * LIMITS.count_max,
            LIMITS.storage_max * LIMITS.count_max,
            LIMITS.gpu_max * LIMITS.count_max,
        )
        names = ("CPU", "memory", "storage", "GPUs")
        for name, total, maximum in zip(names, totals, maxima, strict=True):
            if total > maximum:
                check.error(path, f"the group's total {name} exceeds the chain's limit")
