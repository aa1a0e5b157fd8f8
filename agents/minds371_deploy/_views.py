"""What a watcher pass knows of each deployment: one account listing, and full reads when due.

A full read of a deployment (``GET /v1/deployments/{dseq}`` on Console) carries each lease's live
status, which Console fetches from the lease's provider on every call; the account listing
(``GET /v1/deployments?skip=&limit=``) carries the same deployments, leases and escrow without
that status, a thousand deployments to a page. Asking each deployment in full on every pass
costs a request (and, at Console, a round of provider calls) per deployment per pass.

So a pass lists the account once per network, and a deployment is read in full only when:

* the listing does not show it (closed, gone, or the listing failed: its full read says which);
* its leases (their ids and states) differ from the last full read's (a lease closed, a new one);
* a lease of the last full read had no status (its provider unreachable: the offline grace
  counts on fresh reads);
* the last full read is older than ``status_every`` seconds (a provider's endpoints, or its
  reachability, may have changed without any lease changing).

Otherwise the last full read stands, with the listing's state and escrow (funding decisions use
the current balance). A network whose listing carries no leases (the ``akash`` CLI's
``deployment list``) never matches, so every deployment there is read in full as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from minds371.errors import Minds371Error
from minds371_akash import AkashIntegrationProvider
from minds371_akash.market import Deployment

__all__ = ["DeploymentViews"]


def _lease_states(deployment: Deployment) -> tuple[tuple[str, int, int, int, str, int, str], ...]:
    # Plain tuples of the ids' fields: sorting models by their text cost a repr per lease.
    return tuple(
        sorted(
            (i.owner, i.dseq, i.gseq, i.oseq, i.provider, i.bseq, lease.state)
            for lease in deployment.leases
            for i in (lease.id,)
        )
    )


class DeploymentViews:
    """Deployment reads for one watcher (see module docs).

    Args:
        clock: Seconds, for the age of full reads.
        status_every: Longest time a full read stands in for the next ones.
    """

    def __init__(self, clock: Callable[[], float], status_every: float) -> None:
        self._clock = clock
        self._status_every = status_every
        self._full: dict[tuple[str, int], tuple[float, Deployment]] = {}
        self._listed: dict[str, dict[int, Deployment] | None] = {}
        #: Full reads and listings made (for tests and benchmarks).
        self.full_reads = 0
        self.listings = 0

    def new_pass(self) -> None:
        """Forget this pass's listings: the next pass lists again."""
        self._listed.clear()

    def keep_only(self, watched: Iterable[tuple[str, int]]) -> None:
        """Forget the full reads of deployments no longer watched."""
        keep = set(watched)
        for key in [key for key in self._full if key not in keep]:
            del self._full[key]

    async def view(self, network: str, akash: AkashIntegrationProvider, dseq: int) -> Deployment:
        """The deployment as this pass should see it.

        Raises:
            NotFound: the network does not know it (from its full read).
            Minds371Error: the full read failed.
        """
        kept = self._full.get((network, dseq))
        if kept is not None and self._clock() - kept[0] < self._status_every:
            listed = await self._listing(network, akash)
            seen = listed.get(dseq) if listed is not None else None
            full = kept[1]
            if (
                seen is not None
                and all(lease.status is not None for lease in full.active_leases)
                and _lease_states(seen) == _lease_states(full)
            ):
                return full.model_copy(
                    update={"state": seen.state, "escrow": seen.escrow or full.escrow}
                )
        deployment = await akash.status(dseq)
        self.full_reads += 1
        self._full[(network, dseq)] = (self._clock(), deployment)
        return deployment

    async def _listing(
        self, network: str, akash: AkashIntegrationProvider
    ) -> dict[int, Deployment] | None:
        if network not in self._listed:
            try:
                found = await akash.backend.list_deployments()
            except Minds371Error:
                self._listed[network] = None  # read each deployment in full this pass
            else:
                self._listed[network] = {d.dseq: d for d in found}
            self.listings += 1
        return self._listed[network]
