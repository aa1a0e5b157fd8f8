"""A provider receiving a manifest: lease check, Go re-hash check, group-spec cross-check.

As ``provider:manifest/manager.go`` does it: no lease it has seen → "no lease for deployment"
(404); a manifest ``Manifest.Validate`` refuses (:mod:`._manifest_rules`) → "invalid manifest:
…" (422); a version hash unlike the chain's → "manifest version validation failed" (422); a
manifest that does not fit the deployment's group specs (``CheckAgainstGSpecs``: groups,
resource ids, counts, CPU/GPU/memory/storage, endpoints) → a cross-validation error (422). An
accepted manifest starts (or restarts) the lease's pods; the same manifest again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from minds371_sandbox._manifest_rules import manifest_problem
from minds371_sandbox._records import Lease, WorldError

if TYPE_CHECKING:
    from minds371_sandbox._world import World

__all__ = ["check_against_group_specs", "receive_manifest", "sees_lease"]


def sees_lease(world: World, provider: str, owner: str, dseq: int) -> bool:
    """Whether ``provider`` has seen an active lease of ``owner``'s deployment ``dseq``."""
    dep = world.deployments.get((owner, dseq))
    return dep is not None and any(
        lease.provider == provider and lease.visible_at <= world.height
        for lease in dep.active_leases()
    )


def receive_manifest(
    world: World,
    provider: str,
    owner: str,
    dseq: int,
    groups: Iterable[Mapping[str, Any]],
    version: bytes,
) -> list[Lease]:
    """A provider receives a manifest for ``dseq`` (its re-hash is ``version``).

    Raises:
        WorldError: ``not_found`` "no lease for deployment" (no lease it has seen yet),
            ``invalid`` "manifest version validation failed" or a cross-validation failure.
    """
    dep = world.deployments.get((owner, dseq))
    leases = [
        lease
        for lease in (dep.active_leases() if dep else [])
        if lease.provider == provider and lease.visible_at <= world.height
    ]
    if dep is None or not leases:
        raise WorldError("not_found", "no lease for deployment")
    groups = list(groups)
    problem = manifest_problem(groups)  # Manifest.Validate comes before the version check
    if problem:
        raise WorldError("invalid", problem)
    if bytes(version) != dep.hash:
        raise WorldError("invalid", "manifest version validation failed")
    by_name = {str(g.get("name")): g for g in groups}
    try:
        problem = check_against_group_specs(groups, [g.spec for g in dep.groups])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        problem = f"unreadable manifest: {exc}"
    if problem:
        raise WorldError("invalid", problem)
    _reserve_hostnames(world, provider, owner, [by_name[g.name] for g in _leased(dep, leases)])
    for lease in leases:
        group = dep.group(lease.gseq)
        assert group is not None
        received = dict(by_name[group.name])
        if received == lease.manifest:
            continue  # the same manifest again (a retry): nothing restarts
        lease.manifest = received
        lease.manifest_at = world.height
        lease.generation += 1
    return leases


def _leased(dep: Any, leases: Sequence[Lease]) -> list[Any]:
    groups = [dep.group(lease.gseq) for lease in leases]
    return [group for group in groups if group is not None]


def _reserve_hostnames(
    world: World, provider: str, owner: str, groups: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse hosts another tenant's running workload holds on this provider.

    As ``provider:manifest/manager.go`` ``checkHostnamesForManifest`` and
    ``provider:cluster/hostname.go`` ``CanReserveHostnames``: a host is the provider's, across
    tenants, while a lease whose manifest asks for it runs; the same owner may use it again (a
    replacement deployment). The error is not one the gateway maps to a status, so it answers
    500 (``provider:manifest/gateway.go``, ``utils/httperror``).

    Raises:
        WorldError: ``hostname`` 'hostname not allowed: host "…" in use'.
    """
    wanted = {
        str(host).lower()
        for group in groups
        for service in group.get("services") or []
        for expose in service.get("expose") or []
        for host in expose.get("hosts") or []
    }
    if not wanted:
        return
    for other in world.deployments.values():
        if other.owner == owner:
            continue
        for lease in other.active_leases():
            if lease.provider != provider or lease.manifest is None:
                continue
            for service in lease.manifest.get("services") or []:
                for expose in service.get("expose") or []:
                    for host in expose.get("hosts") or []:
                        if str(host).lower() in wanted:
                            raise WorldError(
                                "hostname", f'hostname not allowed: host "{host}" in use'
                            )


def _value(quantity: Mapping[str, Any] | None) -> str:
    return str(((quantity or {}).get("size") or (quantity or {}).get("units") or {}).get("val", ""))


def _cpu_gpu(resource: Mapping[str, Any], kind: str) -> tuple[str, list[Any]]:
    part = resource.get(kind) or {}
    return str((part.get("units") or {}).get("val", "0")), list(part.get("attributes") or [])


def _storage(resource: Mapping[str, Any]) -> list[tuple[str, str, list[Any]]]:
    # Volumes compare in order, as Go's generated Equal compares the slices.
    return [
        (str(v.get("name", "")), _value(v), list(v.get("attributes") or []))
        for v in resource.get("storage") or []
    ]


def _is_ingress(expose: Mapping[str, Any]) -> bool:
    external = int(expose.get("externalPort") or 0) or int(expose.get("port") or 0)
    return bool(expose.get("global")) and expose.get("proto") == "TCP" and external == 80


_KINDS = {0: "HTTP", 1: "PORT", 2: "IP"}


class _Units:
    """What is left of each resource unit (replicas, endpoints of each kind) while checking."""

    def __init__(self, specs: Sequence[Mapping[str, Any]]) -> None:
        self.left: dict[tuple[str, int], int] = {}
        self.endpoints: dict[tuple[str, int], dict[int, int]] = {}
        for spec in specs:
            for unit in spec.get("resources") or []:
                key = (str(spec.get("name")), int(unit["resource"]["id"]))
                self.left[key] = int(unit.get("count", 0))
                kinds = dict.fromkeys(_KINDS, 0)
                for ep in unit["resource"].get("endpoints") or []:
                    kind = int(ep.get("kind", 0))
                    kinds[kind] = kinds.get(kind, 0) + 1
                self.endpoints[key] = kinds

    def take_endpoints(self, key: tuple[str, int], exposes: list[Mapping[str, Any]]) -> str:
        """Use the unit's endpoints for the service's global exposes (``checkAgainstResources``)."""
        eps = self.endpoints[key]
        for expose in exposes:
            if not expose.get("global"):
                continue
            wanted = [0 if _is_ingress(expose) else 1] + ([2] if expose.get("ip") else [])
            for kind in wanted:
                if eps[kind] == 0:
                    return f"over-utilized {_KINDS[kind]} endpoints"
                eps[kind] -= 1
        return ""

    def under_used(self) -> str:
        for (name, rid), count in self.left.items():
            for kind, label in _KINDS.items():
                if self.endpoints[(name, rid)][kind] > 0:
                    unused = self.endpoints[(name, rid)][kind]
                    return (
                        f"{_CROSS}: group {name!r}: resources ID ({rid}): "
                        f"under-utilized ({unused}) {label} endpoints"
                    )
            if count > 0:
                return (
                    f"{_CROSS}: group {name!r}: resources ID ({rid}): "
                    f"under-utilized ({count}) resources"
                )
        return ""


_CROSS = "manifest cross-validation error"


def _check_service(
    group: str, units: Mapping[int, Mapping[str, Any]], svc: Mapping[str, Any], left: _Units
) -> str:
    """``Service.checkAgainstGSpec``: id, replicas, resources and endpoints of one service."""
    res = svc.get("resources") or {}
    rid = int(res.get("id", 0))
    where = f"{_CROSS}: group {group!r}: service {svc.get('name')!r}"
    unit = units.get(rid)
    if unit is None:
        return f"{where}: not found deployment group resources with ID = {rid}"
    count = int(svc.get("count", 0))
    if count > left.left[(group, rid)]:
        return f"{where}: over-utilized replicas ({count}) > group spec resources count"
    gres = unit["resource"]
    for kind, same in (
        ("CPU", _cpu_gpu(res, "cpu") == _cpu_gpu(gres, "cpu")),
        ("GPU", _cpu_gpu(res, "gpu") == _cpu_gpu(gres, "gpu")),
        ("Memory", _value(res.get("memory")) == _value(gres.get("memory"))),
        ("Storage", _storage(res) == _storage(gres)),
    ):
        if not same:
            return f"{where}: {kind} resources mismatch for ID {rid}"
    problem = left.take_endpoints((group, rid), list(svc.get("expose") or []))
    if problem:
        return f"{where}: resource ID {rid}: {problem}"
    left.left[(group, rid)] -= count
    return ""


def check_against_group_specs(
    groups: Sequence[Mapping[str, Any]], specs: Sequence[Mapping[str, Any]]
) -> str:
    """The provider's cross-validation of a manifest with the deployment's group specs.

    As ``chain-sdk:go/manifest/v2beta3/groups.go`` ``CheckAgainstGSpecs`` (called by
    ``provider:manifest/manager.go`` with every group of the deployment): as many groups as
    specs, each named by a spec; every service's resources id found in its group, its replicas
    within the unit's count, its CPU, GPU, memory and storage (in order) equal to the unit's,
    its global exposes within the unit's endpoints; then no unit under-used.

    Returns:
        The provider's error text, or ``""`` when the manifest fits.
    """
    if len(groups) != len(specs):
        return f"invalid manifest: group count mismatch ({len(groups)} != {len(specs)})"
    by_name = {str(s.get("name")): s for s in specs}
    left = _Units(specs)
    for mgroup in groups:
        name = str(mgroup.get("name"))
        found = by_name.get(name)
        if found is None:
            return f"invalid manifest: unknown deployment group ('{name}')"
        units = {int(u["resource"]["id"]): u for u in found.get("resources") or []}
        for svc in mgroup.get("services") or []:
            problem = _check_service(name, units, svc, left)
            if problem:
                return problem
    return left.under_used()
