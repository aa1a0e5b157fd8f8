"""A provider receiving a manifest: lease check, Go re-hash check, group-spec cross-check.

As ``provider:manifest/manager.go`` does it: no lease it has seen → "no lease for deployment"
(404); a version hash unlike the chain's → "manifest version validation failed" (422); groups or
counts unlike the order's group spec → a cross-validation error (422). An accepted manifest starts
(or restarts) the lease's pods; the same manifest again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from minds371_sandbox._records import Lease, WorldError

if TYPE_CHECKING:
    from minds371_sandbox._world import World

__all__ = ["receive_manifest", "sees_lease"]


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
    if bytes(version) != dep.hash:
        raise WorldError("invalid", "manifest version validation failed")
    by_name = {str(g.get("name")): g for g in groups}
    for lease in leases:
        group = dep.group(lease.gseq)
        assert group is not None
        try:
            problem = _cross_check(by_name.get(group.name), group.spec)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            problem = f"unreadable manifest group: {exc}"
        if problem:
            raise WorldError("invalid", f"manifest cross-validation error: {problem}")
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


def _cross_check(manifest_group: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> str:
    """Compare a manifest group with its GroupSpec the way ``CheckAgainstGSpecs`` does (counts)."""
    if manifest_group is None:
        return f"group {spec.get('name')!r} missing from manifest"
    wanted = {int(u["resource"]["id"]): int(u.get("count", 1)) for u in spec.get("resources") or []}
    have: dict[int, int] = {}
    for service in manifest_group.get("services") or []:
        rid = int((service.get("resources") or {}).get("id", 0))
        have[rid] = have.get(rid, 0) + int(service.get("count", 1))
    if have != wanted:
        return f"group {spec.get('name')!r}: resources do not match the group spec"
    return ""
