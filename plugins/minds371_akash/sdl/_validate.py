"""Semantic SDL validation: every rule beyond the schema's shape, each issue with its path.

The rules are those of the Go SDL parser (``go/sdl``), of the manifest validation it runs
(``manifest/v2beta3``), of the chain's limits on resource units and of the reference's
semantic checks. All issues are collected; nothing stops at the first one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from minds371.errors import FieldIssue
from minds371_akash.sdl._checks import (
    LIMITS,
    Checker,
    Limits,
    is_hostname,
    persistent_flag,
    safe_gpu_units,
)
from minds371_akash.sdl._models import ComputeResources, Expose, Sdl, Service
from minds371_akash.sdl._validate_profiles import (
    check_compute,
    check_group_limits,
    check_placement,
)

__all__ = ["LIMITS", "Limits", "is_hostname", "validate_sdl"]

_SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_ENDPOINT_NAME = re.compile(r"[a-z]+[-_0-9a-z]+\Z")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")


def _expose_issues(check: Checker, name: str, index: int, expose: Expose) -> None:
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


def _service_issues(check: Checker, name: str, service: Service) -> None:
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


def _deployment_issues(check: Checker) -> None:
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
    check_group_limits(check, units_by_group)


def _tee_issues(
    check: Checker,
    svc: str,
    tee: str,
    profile: str,
    placement: str,
    tee_by_group: dict[str, dict[str, str]],
) -> None:
    gpu = check.sdl.profiles.compute[profile].resources.gpu
    has_gpu = gpu is not None and safe_gpu_units(gpu.units) > 0
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


def _storage_params_issues(
    check: Checker, svc: str, service: Service, resources: ComputeResources
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
        if attrs is not None and persistent_flag(attrs.persistent) and name not in params:
            check.error(
                f"/services/{svc}/params/storage/{name}/mount",
                f"persistent volume {name!r} needs a mount path",
            )


def _endpoint_issues(check: Checker) -> None:
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


def _hostname_issues(check: Checker) -> None:
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
    check = Checker(sdl)
    for name, service in sdl.services.items():
        _service_issues(check, name, service)
        if name not in sdl.deployment:
            check.error(
                f"/services/{name}", f"service is not deployed; add it under /deployment/{name}"
            )
    for name, profile in sdl.profiles.compute.items():
        check_compute(check, name, profile.resources)
    for name in sdl.profiles.placement:
        check_placement(check, name)
    _deployment_issues(check)
    _endpoint_issues(check)
    _hostname_issues(check)
    return check.errors, check.warnings
