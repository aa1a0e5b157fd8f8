"""Console's trial wallets: a create first closes the wallet's lease-less deployments.

As ``console:apps/api/src/deployment/services/deployment-writer/deployment-writer.service.ts``
(``reclaimTrialOrphanedDeployments``) does before every create on a trialing wallet, with
``stale-managed-deployments-cleaner.service.ts`` ``cleanUpForWallet(wallet, 0)``: every open
deployment of the owner created below the current height that has never had a lease
(``deployment.repository.ts`` ``findStaleDeployments``: ``COUNT(leases) = 0``) is closed, its
escrow refunded. A deployment still waiting for bids is closed too; Console accepts that because
a trial balance cannot fund two deployments at once.
"""

from __future__ import annotations

from minds371.logging import get_logger
from minds371_sandbox._world import World

__all__ = ["reclaim_trial_orphans"]

_log = get_logger("minds371.sandbox.console")


def reclaim_trial_orphans(world: World, owner: str) -> list[int]:
    """Close ``owner``'s open deployments older than this block that never had a lease."""
    orphans = [
        dep.dseq
        for dep in world.deployments_of(owner)
        if dep.state == "active" and not dep.leases and dep.created_at < world.height
    ]
    for dseq in orphans:
        world.close_deployment(owner, dseq)
    if orphans:
        _log.info("minds371.sandbox.trial_orphans_closed", owner=owner, dseqs=orphans)
    return orphans
