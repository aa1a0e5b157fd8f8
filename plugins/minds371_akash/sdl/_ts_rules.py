"""Console's SDL rules: what chain-sdk's TypeScript accepts, checked on the raw YAML data.

Console validates an SDL with ``validateSDL`` (``chain-sdk:ts/src/sdl/validateSDL/validateSDL.ts``):
the SDL input JSON schema (the same document as ``chain-sdk:go/sdl/sdl-input.schema.yaml``)
followed by its cross-reference checks, and then builds the manifest, which throws on sizes it
cannot read. These rules differ from Go's: sizes are read case-insensitively with any unit
letter after the prefix (``16GB`` is 16·10⁹ bytes, ``16gi`` is 16 GiB), a single storage mapping
keeps its own name, price denoms are rewritten by Console before validation, and unknown fields
are refused everywhere. On top, the chain's limits apply to what Console would put in the
transaction (``validation_config.go``), since the chain refuses it otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minds371.errors import FieldIssue
from minds371_akash.sdl._checks import LIMITS, fmt_bytes
from minds371_akash.sdl._ts_js import js_string, js_truthy
from minds371_akash.sdl._ts_schema import schema_issues
from minds371_akash.sdl._ts_units import TsValueError, ts_cpu_millis, ts_gpu_units, ts_size
from minds371_akash.sdl._units import UnitError, parse_price

__all__ = ["check_console_rules"]


def _volumes(resources: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    storage = resources.get("storage")
    if storage is None:
        return []
    return list(storage) if isinstance(storage, list) else [storage]


def _storage_issues(
    name: str, svc: Mapping[str, Any], profile: str, res: Mapping[str, Any]
) -> list[FieldIssue]:
    """``#validateServiceStorages`` and ``#validateStorages`` for one service and profile."""
    issues: list[FieldIssue] = []
    volumes = _volumes(res)
    names = {v.get("name") for v in volumes}
    storage_params: Mapping[str, Any] = (svc.get("params") or {}).get("storage") or {}
    mounts: dict[str, str] = {}
    for volume_name, conf in storage_params.items():
        where = f"/services/{name}/params/storage/{volume_name}"
        if not conf:
            issues.append(FieldIssue(where, f"storage {volume_name!r} is not configured"))
            continue
        if volume_name not in names:
            single = "" if isinstance(res.get("storage"), list) else " (a single mapping: no name)"
            issues.append(
                FieldIssue(
                    f"/profiles/compute/{profile}/resources/storage",
                    f"service {name!r} references no volume named {volume_name!r}{single}",
                )
            )
            continue
        # String(undefined) is "undefined": volumes without a mount share that key.
        mount = str(conf.get("mount")) if "mount" in conf else "undefined"
        if mount in mounts:
            issues.append(
                FieldIssue(
                    where,
                    f"mount {mount!r} already used by volume {mounts[mount]!r}"
                    if conf.get("mount")
                    else "several root ephemeral volumes",
                )
            )
        mounts[mount] = volume_name
    for volume in volumes:
        flag = (volume.get("attributes") or {}).get("persistent", False)
        persistent = (
            flag if isinstance(flag, bool) else str(flag).lower() not in ("false", "no", "0", "")
        )
        vol_name = volume.get("name") or ""
        if persistent and not (storage_params.get(vol_name) or {}).get("mount"):
            shown = vol_name or "default"
            issues.append(
                FieldIssue(
                    f"/services/{name}/params/storage/{shown}",
                    f"persistent volume {shown!r} needs a mount path",
                )
            )
    return issues


def _gpu_tee_issues(
    name: str,
    svc: Mapping[str, Any],
    group: str,
    profile: str,
    res: Mapping[str, Any],
    tee_by_group: dict[str, str],
) -> list[FieldIssue]:
    """``#validateGPU`` and ``#validateTEE`` for one service in one placement."""
    issues: list[FieldIssue] = []
    gpu: Mapping[str, Any] = res.get("gpu") or {}
    has_units = gpu.get("units") is not None and gpu.get("units") != 0
    if gpu:
        gpu_path = f"/profiles/compute/{profile}/resources/gpu"
        if not has_units and "attributes" in gpu:
            issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU attributes need units"))
        if has_units and "attributes" not in gpu:
            issues.append(FieldIssue(gpu_path, "GPU units need attributes"))
        if has_units and "vendor" not in (gpu.get("attributes") or {}):
            issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU units need a vendor"))
    tee = (svc.get("params") or {}).get("tee")
    if tee:
        where = f"/services/{name}/params/tee"
        if tee == "cpu-gpu" and not has_units:
            issues.append(FieldIssue(where, "tee cpu-gpu needs GPUs"))
        if tee_by_group.setdefault(group, tee) != tee:
            issues.append(FieldIssue(where, f"conflicting tee types in placement {group!r}"))
    return issues


def _placement_issues(
    data: Mapping[str, Any], name: str, tee_by_group: dict[str, str]
) -> list[FieldIssue]:
    """``#validateDeploymentWithRelations`` for one service."""
    deployment: Mapping[str, Any] = data["deployment"]
    if name not in deployment:
        return [FieldIssue("/deployment", f"service {name!r} is not deployed")]
    issues: list[FieldIssue] = []
    svc = data["services"][name]
    for group, entry in deployment[name].items():
        profile = entry["profile"]
        infra = data["profiles"]["placement"].get(group)
        if infra is None:
            issues.append(FieldIssue("/profiles/placement", f"placement {group!r} is not defined"))
        elif profile not in infra["pricing"]:
            issues.append(
                FieldIssue(
                    f"/profiles/placement/{group}/pricing", f"no price for the {profile!r} profile"
                )
            )
        res = data["profiles"]["compute"].get(profile, {}).get("resources")
        if res is None:
            issues.append(
                FieldIssue("/profiles/compute", f"compute profile {profile!r} is not defined")
            )
            continue
        issues += _storage_issues(name, svc, profile, res)
        issues += _gpu_tee_issues(name, svc, group, profile, res, tee_by_group)
    return issues


def _leased_ip_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """``#validateLeaseIP`` and ``#validateEndpoints``."""
    issues: list[FieldIssue] = []
    endpoints: Mapping[str, Any] = data.get("endpoints") or {}
    used: set[str] = set()
    ports: set[tuple[str, Any, str]] = set()
    for name, svc in data["services"].items():
        for index, exp in enumerate(svc.get("expose") or ()):
            proto = str(exp.get("proto") or "TCP").upper()
            for to_index, target in enumerate(exp.get("to") or ()):
                ip = target.get("ip")
                if not ip:
                    continue
                where = f"/services/{name}/expose/{index}/to/{to_index}/ip"
                if ip not in endpoints:
                    issues.append(FieldIssue(where, f"no endpoint named {ip!r} under /endpoints"))
                used.add(ip)
                port = exp.get("as") if exp.get("as") is not None else exp.get("port")
                if (ip, port, proto) in ports:
                    issues.append(FieldIssue(where, f"endpoint {ip!r} port {port} {proto} in use"))
                ports.add((ip, port, proto))
    issues += [
        FieldIssue(f"/endpoints/{e}", "endpoint declared but never used")
        for e in endpoints
        if e not in used
    ]
    return issues


def _relation_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """``SDLValidator``: deployments, storage mounts, GPUs, TEE, leased IPs, endpoints."""
    issues: list[FieldIssue] = []
    tee_by_group: dict[str, str] = {}
    for name in data["services"]:
        issues += _placement_issues(data, name, tee_by_group)
    issues += _leased_ip_issues(data)
    issues += [
        FieldIssue(
            f"/deployment/{name}",
            f"no service named {name!r} (chain-sdk fails building this manifest)",
        )
        for name in data["deployment"]
        if name not in data["services"]
    ]
    return issues


def _limit(where: str, value: int, low: int, high: int, shown: str) -> list[FieldIssue]:
    if low <= value <= high:
        return []
    return [
        FieldIssue(
            where,
            f"{shown} is outside the chain's limits ({fmt_bytes(low)} to {fmt_bytes(high)})",
        )
    ]


def _cpu_issues(base: str, units: Any) -> list[FieldIssue]:
    try:
        millis = ts_cpu_millis(units)
    except TsValueError as exc:
        return [FieldIssue(f"{base}/cpu/units", str(exc))]
    if not float(millis).is_integer():
        return [FieldIssue(f"{base}/cpu/units", "the chain takes whole millicores only")]
    if not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
        return [
            FieldIssue(
                f"{base}/cpu/units",
                f"{int(millis)}m is outside the chain's limits "
                f"({LIMITS.cpu_min}m to {LIMITS.cpu_max}m)",
            )
        ]
    return []


def _size_issues(where: str, text: Any, low: int, high: int) -> list[FieldIssue]:
    try:
        size = ts_size(str(text))
    except TsValueError as exc:
        return [FieldIssue(where, str(exc))]
    return _limit(where, size, low, high, f"{text!r} ({size} bytes)")


def _gpu_issues(base: str, gpu: Mapping[str, Any]) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    units = ts_gpu_units(gpu.get("units"))
    if math.isnan(units) or not float(units).is_integer() or units < 0:
        issues.append(FieldIssue(f"{base}/gpu/units", "must be a whole number of GPUs"))
    elif units > LIMITS.gpu_max:
        issues.append(FieldIssue(f"{base}/gpu/units", f"at most {LIMITS.gpu_max} GPUs"))
    for vendor, models in ((gpu.get("attributes") or {}).get("vendor") or {}).items():
        for index, model in enumerate(models or ()):
            if not js_truthy(model.get("model")):
                issues.append(
                    FieldIssue(
                        f"{base}/gpu/attributes/vendor/{vendor}/{index}/model",
                        "a GPU entry needs a model (chain-sdk would ask for model 'undefined')",
                    )
                )
    return issues


def _price_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Prices the chain cannot read as a ``DecCoin`` once chain-sdk wrote them as text."""
    issues: list[FieldIssue] = []
    for group, infra in data["profiles"]["placement"].items():
        for profile, price in infra["pricing"].items():
            where = f"/profiles/placement/{group}/pricing/{profile}/amount"
            amount = price["amount"]
            text = amount if isinstance(amount, str) else js_string(amount)
            try:
                value = parse_price(text)
            except UnitError as exc:
                issues.append(FieldIssue(where, f"chain-sdk writes {text!r}: {exc}"))
                continue
            if value > LIMITS.price_max:
                issues.append(FieldIssue(where, f"at most {LIMITS.price_max} per block per unit"))
    return issues


def _group_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """The chain's limits on groups and units, as chain-sdk merges units.

    One unit per placement and profile, its replicas added up.
    """
    units: dict[str, dict[str, int]] = {}
    for targets in data["deployment"].values():
        for group, entry in targets.items():
            per_group = units.setdefault(group, {})
            per_group[entry["profile"]] = per_group.get(entry["profile"], 0) + entry["count"]
    issues: list[FieldIssue] = []
    if len(units) > LIMITS.groups_max:
        issues.append(FieldIssue("/deployment", f"at most {LIMITS.groups_max} placement groups"))
    for group, profiles in units.items():
        where = f"/profiles/placement/{group}"
        if len(profiles) > LIMITS.units_per_group_max:
            issues.append(FieldIssue(where, f"at most {LIMITS.units_per_group_max} resource units"))
        issues += [
            FieldIssue(
                where,
                f"{count} replicas of profile {profile!r} in one resource unit; "
                f"the chain allows {LIMITS.count_max}",
            )
            for profile, count in profiles.items()
            if count > LIMITS.count_max
        ]
    return issues


def _quantity_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Quantities chain-sdk cannot compute, or that the chain refuses in the transaction."""
    issues: list[FieldIssue] = _price_issues(data) + _group_issues(data)
    for profile, conf in data["profiles"]["compute"].items():
        base = f"/profiles/compute/{profile}/resources"
        res = conf["resources"]
        issues += _cpu_issues(base, res["cpu"]["units"])
        issues += _size_issues(
            f"{base}/memory/size", res["memory"]["size"], LIMITS.memory_min, LIMITS.memory_max
        )
        storage = res["storage"]
        listed = isinstance(storage, list)
        volumes = storage if listed else [storage]
        if not volumes:
            issues.append(FieldIssue(f"{base}/storage", "at least one volume is needed"))
        for index, volume in enumerate(volumes):
            where = f"{base}/storage/{index}/size" if listed else f"{base}/storage/size"
            issues += _size_issues(where, volume["size"], LIMITS.storage_min, LIMITS.storage_max)
        issues += _gpu_issues(base, res.get("gpu") or {})
    return issues


def check_console_rules(data: Any) -> list[FieldIssue]:
    """Every issue Console (chain-sdk TypeScript) and then the chain find in raw SDL data.

    Args:
        data: The YAML document as loaded (after Console's own rewrites, when modelling it).

    Returns:
        The issues, each with its path; empty when Console would build and send the SDL.
    """
    if not isinstance(data, Mapping):
        return [FieldIssue("/", "an SDL is a YAML mapping")]
    issues = schema_issues(data)
    if issues:
        return issues
    issues = _relation_issues(data)
    if issues:
        return issues
    return _quantity_issues(data)
