"""Semantic SDL validation: every rule beyond the schema's shape, each issue with its path.

The rules are those of the Go SDL parser (``go/sdl``), of the manifest validation it runs
(``manifest/v2beta3``), of the chain's limits on resource units and of the reference's
semantic checks. All issues are collected; nothing stops at the first one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from minds371.errors import FieldIssue
from minds371_akash.sdl._models import ComputeResources, Expose, Sdl, Service
from minds371_akash.sdl._units import (
    UnitError,
    parse_cpu_millis,
    parse_gpu_ram,
    parse_gpu_units,
    parse_price,
    parse_size,
    scalar_text,
)

__all__ = ["LIMITS", "Limits", "is_hostname", "validate_sdl"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The chain's hard limits on one deployment (``validation_config.go``)."""

    cpu_min: int = 10
    cpu_max: int = 384_000
    gpu_max: int = 24
    memory_min: int = 1024**2
    memory_max: int = 2 * 1024**4
    storage_min: int = 5 * 1024**2
    storage_max: int = 32 * 1024**4
    count_max: int = 50
    price_max: Decimal = Decimal(10_000_000)
    groups_max: int = 20
    units_per_group_max: int = 20


LIMITS = Limits()
"""The limits in force."""

_SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_ENDPOINT_NAME = re.compile(r"[a-z]+[-_0-9a-z]+\Z")
_ATTRIBUTE_KEY = re.compile(r"[a-zA-Z][\w/.\-]{1,126}\Z")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_STORAGE_CLASSES = ("default", "beta1", "beta2", "beta3", "ram")


def _fmt_bytes(value: int) -> str:
    for suffix, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2)):
        if value % size == 0:
            return f"{value // size}{suffix}"
    return f"{value} bytes"


def is_hostname(host: str) -> bool:
    """Whether ``host`` is a lowercase DNS name the provider's ingress accepts."""
    if not host or len(host) > 253:
        return False
    return all(len(label) <= 63 and _DNS_LABEL.match(label) for label in host.split("."))


class _Checker:
    def __init__(self, sdl: Sdl) -> None:
        self.sdl = sdl
        self.errors: list[FieldIssue] = []
        self.warnings: list[FieldIssue] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldIssue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(FieldIssue(path, message))

    # -- compute profiles -------------------------------------------------------------------

    def compute(self, name: str, res: ComputeResources) -> None:
        base = f"/profiles/compute/{name}/resources"
        try:
            millis = parse_cpu_millis(res.cpu.units)
        except UnitError as exc:
            self.error(f"{base}/cpu/units", str(exc))
        else:
            if not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
                self.error(
                    f"{base}/cpu/units",
                    f"{millis}m CPU is outside the chain's limits "
                    f"({LIMITS.cpu_min}m to {LIMITS.cpu_max}m)",
                )
        for key, value in (res.cpu.attributes or {}).items():
            if key != "arch":
                self.error(f"{base}/cpu/attributes/{key}", "unsupported CPU attribute; use arch")
            elif not isinstance(value, str) or not value:
                self.error(f"{base}/cpu/attributes/{key}", "must be a non-empty string")
        self._memory(base, res)
        self._storage(base, res)
        self._gpu(base, res)

    def _memory(self, base: str, res: ComputeResources) -> None:
        try:
            size = parse_size(res.memory.size, what="memory size")
        except UnitError as exc:
            self.error(f"{base}/memory/size", str(exc))
            return
        if not LIMITS.memory_min <= size <= LIMITS.memory_max:
            self.error(
                f"{base}/memory/size",
                f"memory {res.memory.size} is outside the chain's limits "
                f"({_fmt_bytes(LIMITS.memory_min)} to {_fmt_bytes(LIMITS.memory_max)})",
            )

    def _storage(self, base: str, res: ComputeResources) -> None:
        names: set[str] = set()
        for index, volume in enumerate(res.storage):
            path = f"{base}/storage/{index}"
            name = volume.name or "default"
            if name in names:
                self.error(f"{path}/name", f"duplicate volume name {name!r}; name each volume")
            names.add(name)
            try:
                size = parse_size(volume.size, what="storage size")
            except UnitError as exc:
                self.error(f"{path}/size", str(exc))
            else:
                if not LIMITS.storage_min <= size <= LIMITS.storage_max:
                    self.error(
                        f"{path}/size",
                        f"storage {volume.size} is outside the chain's limits "
                        f"({_fmt_bytes(LIMITS.storage_min)} to "
                        f"{_fmt_bytes(LIMITS.storage_max)} per volume)",
                    )
            attrs = volume.attributes
            if attrs is None:
                continue
            persistent = _persistent(attrs.persistent)
            if persistent is None:
                self.error(f"{path}/attributes/persistent", "must be true or false")
            if attrs.class_ is None:
                continue
            if attrs.class_ not in _STORAGE_CLASSES:
                self.error(
                    f"{path}/attributes/class",
                    f"unknown storage class {attrs.class_!r}; use one of "
                    + ", ".join(_STORAGE_CLASSES),
                )
            elif attrs.class_ == "ram" and persistent:
                self.error(
                    f"{path}/attributes/persistent",
                    "RAM storage cannot be persistent; set persistent: false",
                )
            elif attrs.class_ != "ram" and persistent is False:
                self.error(
                    f"{path}/attributes/class",
                    f"class {attrs.class_!r} needs persistent: true "
                    "(ephemeral storage takes no class)",
                )

    def _gpu(self, base: str, res: ComputeResources) -> None:
        gpu = res.gpu
        if gpu is None:
            return
        try:
            units = parse_gpu_units(gpu.units)
        except UnitError as exc:
            self.error(f"{base}/gpu/units", str(exc))
            return
        if units > LIMITS.gpu_max:
            self.error(f"{base}/gpu/units", f"at most {LIMITS.gpu_max} GPUs per unit")
        if units > 0 and gpu.attributes is None:
            self.error(
                f"{base}/gpu/attributes",
                "GPUs need attributes: add vendor: {nvidia: [{model: <model>}]} "
                "(or nvidia: null for any model)",
            )
        if units == 0 and gpu.attributes is not None:
            self.error(f"{base}/gpu/attributes", "GPU attributes need units greater than 0")
        if gpu.attributes is None:
            return
        vendor = gpu.attributes.vendor
        if "nvidia" not in vendor.model_fields_set:
            self.error(f"{base}/gpu/attributes/vendor", "name a vendor (nvidia)")
        for index, model in enumerate(vendor.nvidia or ()):
            path = f"{base}/gpu/attributes/vendor/nvidia/{index}"
            if not model.model:
                self.error(f"{path}/model", "name the GPU model (for example h100)")
            elif "/" in model.model:
                self.error(f"{path}/model", "a model name cannot contain '/'")
            if model.ram is not None:
                try:
                    parse_gpu_ram(model.ram)
                except UnitError as exc:
                    self.error(f"{path}/ram", str(exc))

    # -- placements --------------------------------------------------------------------------

    def placement(self, name: str) -> None:
        placement = self.sdl.profiles.placement[name]
        base = f"/profiles/placement/{name}"
        for key, value in (placement.attributes or {}).items():
            if not _ATTRIBUTE_KEY.match(key):
                self.error(
                    f"{base}/attributes/{key}",
                    "attribute keys start with a letter and use letters, digits, _ / . -",
                )
            if scalar_text(value) == "":
                self.error(f"{base}/attributes/{key}", "attribute value must not be empty")
        signed = placement.signed_by
        for field, items in (
            ("allOf", signed.all_of if signed else None),
            ("anyOf", signed.any_of if signed else None),
        ):
            for index, item in enumerate(items or ()):
                if not item.strip():
                    self.error(f"{base}/signedBy/{field}/{index}", "auditor address is empty")
        for profile, price in placement.pricing.items():
            path = f"{base}/pricing/{profile}"
            if profile not in self.sdl.profiles.compute:
                self.warn(path, f"no compute profile named {profile!r}; this price is unused")
            try:
                amount = parse_price(price.amount)
            except UnitError as exc:
                self.error(f"{path}/amount", str(exc))
                continue
            if amount > LIMITS.price_max:
                self.error(
                    f"{path}/amount",
                    f"at most {LIMITS.price_max} {price.denom} per block per unit",
                )
            elif amount == 0:
                self.warn(f"{path}/amount", "a price of 0 gets no bids")
            if price.denom == "uakt":
                self.warn(
                    f"{path}/denom",
                    "the chain refuses uakt for new deployments since v2.0; price in uact",
                )


def _persistent(value: bool | str) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value.strip().lower())


def _expose_issues(check: _Checker, name: str, index: int, expose: Expose) -> None:
    path = f"/services/{name}/expose/{index}"
    cases = expose.http_options.next_cases if expose.http_options else None
    if cases and "off" in cases and len(cases) > 1:
        check.error(f"{path}/http_options/next_cases", "'off' cannot be combined with other cases")
    for host_index, host in enumerate(expose.accept or ()):
        if not is_hostname(host):
            check.error(
                f"{path}/accept/{host_index}",
                f"{host!r} is not a valid hostname (lowercase letters, digits, '-' and '.')",
            )
    for to_index, to in enumerate(expose.to or ()):
        to_path = f"{path}/to/{to_index}"
        if to.service is not None and to.service not in check.sdl.services:
            check.error(f"{to_path}/service", f"no service named {to.service!r}")
        if to.ip is not None:
            if not to.global_:
                check.error(f"{to_path}/global", "an ip endpoint needs global: true")
            if to.ip not in (check.sdl.endpoints or {}):
                check.error(
                    f"{to_path}/ip", f"no endpoint named {to.ip!r}; declare it under /endpoints"
                )


def _service_issues(check: _Checker, name: str, service: Service) -> None:
    base = f"/services/{name}"
    if not _SERVICE_NAME.match(name) or len(name) > 63:
        check.error(
            base,
            "service names use lowercase letters, digits and '-', start with a letter "
            "and are at most 63 characters",
        )
    if not service.image.strip():
        check.error(f"{base}/image", "image must not be blank")
    for index, entry in enumerate(service.env or ()):
        env_name = entry.split("=", 1)[0]
        if not _ENV_NAME.match(env_name):
            check.error(
                f"{base}/env/{index}",
                f"invalid variable name {env_name!r}; write NAME=value with NAME made of "
                "letters, digits, '_', '-', '.'",
            )
    creds = service.credentials
    if creds is not None:
        for field in ("host", "username", "password"):
            if not getattr(creds, field).strip():
                check.error(f"{base}/credentials/{field}", f"{field} must not be blank")
    for index, expose in enumerate(service.expose or ()):
        _expose_issues(check, name, index, expose)


def _deployment_issues(check: _Checker) -> None:
    sdl = check.sdl
    compute = sdl.profiles.compute
    placements = sdl.profiles.placement
    denoms: dict[str, str] = {}
    tee_by_group: dict[str, dict[str, str]] = defaultdict(dict)
    # placement -> resource unit key (service in 2.0, profile in 2.1) -> [profile, replicas]
    units_by_group: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for svc, entries in sdl.deployment.items():
        base = f"/deployment/{svc}"
        service = sdl.services.get(svc)
        if service is None:
            check.error(base, f"no service named {svc!r}; define it under /services")
        if not entries:
            check.error(base, "name at least one placement to deploy the service to")
        for placement_name, entry in entries.items():
            path = f"{base}/{placement_name}"
            if entry.count > LIMITS.count_max:
                check.error(f"{path}/count", f"at most {LIMITS.count_max} replicas")
            profile = compute.get(entry.profile)
            if profile is None:
                check.error(f"{path}/profile", f"no compute profile named {entry.profile!r}")
            placement = placements.get(placement_name)
            if placement is None:
                check.error(
                    path,
                    f"no placement named {placement_name!r}; define it under /profiles/placement",
                )
                continue
            price = placement.pricing.get(entry.profile)
            if price is None:
                check.error(
                    f"{path}/profile",
                    f"placement {placement_name!r} has no price for profile {entry.profile!r}; "
                    f"add /profiles/placement/{placement_name}/pricing/{entry.profile}",
                )
            else:
                first = next(iter(denoms.values()), None)
                if first is not None and price.denom != first:
                    check.error(
                        f"/profiles/placement/{placement_name}/pricing/{entry.profile}/denom",
                        f"every price must use the same denom ({first})",
                    )
                denoms[f"{placement_name}/{entry.profile}"] = price.denom
            key = entry.profile if sdl.version == "2.1" else svc
            unit = units_by_group[placement_name].setdefault(key, [entry.profile, 0])
            unit[1] += entry.count
            if service is None or profile is None:
                continue
            _storage_params_issues(check, svc, service, profile.resources)
            tee = service.params.tee if service.params else None
            if tee is not None:
                _tee_issues(check, svc, tee, entry.profile, placement_name, tee_by_group)
    _group_limit_issues(check, units_by_group)


def _tee_issues(
    check: _Checker,
    svc: str,
    tee: str,
    profile: str,
    placement: str,
    tee_by_group: dict[str, dict[str, str]],
) -> None:
    gpu = check.sdl.profiles.compute[profile].resources.gpu
    has_gpu = gpu is not None and _safe_gpu_units(gpu.units) > 0
    if tee == "cpu-gpu" and not has_gpu:
        check.error(
            f"/services/{svc}/params/tee", f"tee: cpu-gpu needs GPUs in profile {profile!r}"
        )
    if any(t != tee for t in tee_by_group[placement].values()):
        check.error(
            f"/services/{svc}/params/tee",
            f"placement {placement!r} mixes tee types; use one per placement",
        )
    tee_by_group[placement][svc] = tee


def _group_limit_issues(check: _Checker, units_by_group: dict[str, dict[str, list[Any]]]) -> None:
    """The chain's limits on groups: their number, units, replicas and total resources."""
    if len(units_by_group) > LIMITS.groups_max:
        check.error("/deployment", f"at most {LIMITS.groups_max} placement groups")
    compute = check.sdl.profiles.compute
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
            profile = compute.get(profile_name)
            if profile is not None:
                for index, amount in enumerate(_amounts(profile.resources)):
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


def _amounts(resources: ComputeResources) -> tuple[int, int, int, int]:
    """Per-replica CPU millis, memory, storage and GPUs; 0 where a value does not parse."""
    values = []
    for parse, value in (
        (parse_cpu_millis, resources.cpu.units),
        (parse_size, resources.memory.size),
    ):
        try:
            values.append(parse(value))
        except UnitError:
            values.append(0)
    storage = 0
    for volume in resources.storage:
        try:
            storage += parse_size(volume.size)
        except UnitError:
            pass
    gpus = _safe_gpu_units(resources.gpu.units) if resources.gpu else 0
    return values[0], values[1], storage, gpus


def _safe_gpu_units(value: object) -> int:
    try:
        return parse_gpu_units(value)
    except UnitError:
        return 0


def _storage_params_issues(
    check: _Checker, svc: str, service: Service, resources: ComputeResources
) -> None:
    volumes = {volume.name or "default": volume for volume in resources.storage}
    params = service.params.storage if service.params and service.params.storage else {}
    mounts: dict[str, str] = {}
    for name, param in params.items():
        path = f"/services/{svc}/params/storage/{name}"
        volume = volumes.get(name)
        if volume is None:
            check.error(path, f"no volume named {name!r} in the service's compute profile")
            continue
        if param.mount is None:
            check.error(f"{path}/mount", "mount must be an absolute path")
            continue
        if param.mount in mounts:
            check.error(
                f"{path}/mount", f"mount {param.mount!r} is already used by {mounts[param.mount]!r}"
            )
        mounts[param.mount] = name
        if volume.attributes and volume.attributes.class_ == "ram" and param.read_only:
            check.error(f"{path}/readOnly", "RAM storage cannot be read-only")
    for name, volume in volumes.items():
        attrs = volume.attributes
        if attrs is not None and _persistent(attrs.persistent) and name not in params:
            check.error(
                f"/services/{svc}/params/storage/{name}/mount",
                f"persistent volume {name!r} needs a mount path",
            )


def _endpoint_issues(check: _Checker) -> None:
    sdl = check.sdl
    used: set[str] = set()
    ports: dict[tuple[str, int, str], str] = {}
    global_count = 0
    for svc in sdl.deployment:
        service = sdl.services.get(svc)
        if service is None:
            continue
        for index, expose in enumerate(service.expose or ()):
            proto = (expose.proto or "TCP").upper()
            external = expose.as_ or expose.port
            for to_index, to in enumerate(expose.to or ()):
                if to.global_:
                    global_count += 1
                if to.ip is None:
                    continue
                used.add(to.ip)
                key = (to.ip, external, proto)
                if key in ports:
                    check.error(
                        f"/services/{svc}/expose/{index}/to/{to_index}/ip",
                        f"{proto} port {external} of endpoint {to.ip!r} is already used by "
                        f"service {ports[key]!r}",
                    )
                ports[key] = svc
    for name in sdl.endpoints or {}:
        if not _ENDPOINT_NAME.match(name):
            check.error(
                f"/endpoints/{name}",
                "endpoint names use lowercase letters, digits, '-' and '_' "
                "(at least 2 characters, starting with a letter)",
            )
        if name not in used:
            check.error(f"/endpoints/{name}", f"endpoint {name!r} is declared but never used")
    if global_count == 0:
        check.error(
            "/services",
            "no service is exposed to the internet; add `to: [{global: true}]` to an expose",
        )


def _hostname_issues(check: _Checker) -> None:
    # The manifest carries an expose's hosts once per `to` entry, and the provider refuses a
    # hostname that appears twice anywhere in the manifest: count them the same way.
    hosts: dict[str, str] = {}
    for name, entries in check.sdl.deployment.items():
        service = check.sdl.services.get(name)
        for index, expose in enumerate(service.expose or () if service else ()):
            copies = len(entries) * max(1, len(expose.to or ()))
            for host_index, host in enumerate(expose.accept or ()):
                path = f"/services/{name}/expose/{index}/accept/{host_index}"
                for _ in range(copies):
                    if host in hosts:
                        where = "this expose's other copies" if hosts[host] == path else hosts[host]
                        check.error(path, f"hostname {host!r} is already used by {where}")
                        break
                    hosts[host] = path


def validate_sdl(sdl: Sdl) -> tuple[list[FieldIssue], list[FieldIssue]]:
    """Check every semantic rule of a schema-valid SDL.

    Args:
        sdl: A document whose shape already passed the models.

    Returns:
        ``(errors, warnings)``, each a list of issues with paths.
    """
    check = _Checker(sdl)
    for name, service in sdl.services.items():
        _service_issues(check, name, service)
        if name not in sdl.deployment:
            check.error(
                f"/services/{name}", f"service is not deployed; add it under /deployment/{name}"
            )
    for name, profile in sdl.profiles.compute.items():
        check.compute(name, profile.resources)
    for name in sdl.profiles.placement:
        check.placement(name)
    _deployment_issues(check)
    _endpoint_issues(check)
    _hostname_issues(check)
    return check.errors, check.warnings
