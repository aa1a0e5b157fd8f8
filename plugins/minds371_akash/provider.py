"""AkashIntegrationProvider: from an SDL to running leases with endpoints, within a budget.

It composes a :class:`~minds371_akash.market.MarketBackend` (sandbox, Console or CLI) with a
:class:`~minds371_akash.bidding.BidPolicy` and a :class:`~minds371_akash.Budget`::

    async with AkashIntegrationProvider(backend, policy=BidPolicy(), budget=Budget(...),
                                        on_event=print_event) as akash:
        result = await akash.deploy(sdl_yaml)
        result.dseq, result.endpoints, result.cost.usd_per_month

``deploy()`` runs the steps below, each also public so that a durable saga can interleave its own
records (or pass a :class:`~minds371_akash.DeployJournal`, whose callbacks run around every side
effect):

1. :meth:`prepare` - parse the SDL once: manifest, version hash, groups, prices (no I/O);
2. :meth:`check_budget` - refuse, with nothing spent, what the budget does not allow;
3. :meth:`create` - create the deployment (never twice for one call);
4. :meth:`wait_for_bids` - poll each block until the policy says the best choice is in;
5. :meth:`lease` - lease the chosen bids and send the manifest;
6. :meth:`wait_until_ready` - until every service of every lease is ready.

On failure ``deploy()`` closes what it created (unless ``close_on_failure=False``) and raises a
typed error carrying a diagnosis (:func:`minds371_akash.diagnose.diagnosis_of`).

Recovery and redundancy: :meth:`find_existing` finds deployments by manifest version hash;
:meth:`resume` continues from a dseq (re-sends the manifest to existing leases, bids and leases
the groups without one, waits until ready); :meth:`relet_group` re-bids and re-leases one group
after its lease closed, on another provider. Also :meth:`status`, :meth:`logs`,
:meth:`stream_logs`, :meth:`events`, :meth:`update`, :meth:`deposit`, :meth:`close`,
:meth:`bids` and :meth:`cost`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from decimal import Decimal

import anyio

from minds371.errors import (
    BudgetExceeded,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    Minds371Error,
)
from minds371.logging import get_logger
from minds371_akash._bid_wait import wait_for_bids
from minds371_akash._deploy_types import DeploymentResult, PreparedDeployment
from minds371_akash._manifest_credentials import restore_credentials
from minds371_akash._operations import DeploymentOperations
from minds371_akash._provider_base import MIN_DEPOSIT_UACT
from minds371_akash._readiness import ReadinessWatch
from minds371_akash.bidding import GroupRanking, RankedBid
from minds371_akash.diagnose import (
    attach,
    diagnose_hostname_in_use,
    diagnose_insufficient_funds,
    diagnose_lease_failed,
    diagnose_manifest_rejected,
)
from minds371_akash.market import Bid, CreatedDeployment, Deployment, Lease

__all__ = ["MIN_DEPOSIT_UACT", "AkashIntegrationProvider"]

_log = get_logger("minds371.akash.provider")


class AkashIntegrationProvider(DeploymentOperations):
    """Deploy SDL to Akash through one backend, with a bid policy and a budget.

    Args:
        backend: The marketplace to use.
        policy: Bid filters, ranking and waiting rule.
        budget: Spending limits, checked before anything spends.
        on_event: Called with every progress event.
        journal: Saga callbacks around every side effect.
        bid_timeout: Seconds to wait for acceptable bids before giving up (``NoBidsError``).
        ready_timeout: Seconds to wait for every service to become ready.
        poll_interval: Seconds between polls; default half a block (or 1 s if unknown).
        close_on_failure: Close a deployment this provider created when a later step fails.
        probe_endpoints: After ready, HTTP-probe the endpoints and fail if none answers.
        own_backend: Close the backend in :meth:`aclose`.
        pricing_block_time: Seconds per block for cost reports; default: the backend's measured
            block time, except on the sandbox, whose clock is sped up while its prices mirror the
            real network's (there the Console figure, 6.098 s, is used).
        unique_versions: Every SDL this provider creates carries a marker of its own (a task
            id), so no deployment of its version exists before its create, and a resumed task
            adopts its deployment before creating again: creates skip noting the version's
            existing deployments (see ``MarketBackend.create_deployment``).
        prepared: The preparation of the SDL this provider deploys, when the caller has it
            already; :meth:`prepare` returns it for that text by the backend's rules.
    """

    async def create(
        self, prepared: PreparedDeployment, *, deposit: Decimal | None = None
    ) -> CreatedDeployment:
        """Create the deployment (journal ``before_create`` first, ``created`` right after)."""
        if self._journal is not None:
            await self._journal.before_create(version=prepared.version, sdl=prepared.sdl)
        created = await self.backend.create_deployment(
            prepared.sdl,
            version=prepared.version,
            manifest=prepared.manifest,
            deposit=deposit,
            unique_version=self.unique_versions,
        )
        # The manifest the network returned is the one its providers accept: Console hashes
        # exactly the string it returns into MsgCreateDeployment.hash
        # (console:apps/api/src/deployment/services/deployment-writer/deployment-writer.service.ts).
        version = _version_of(created.manifest) if created.manifest else prepared.version
        if self._journal is not None:
            await self._journal.created(
                dseq=created.dseq,
                version=version,
                recovered=created.recovered,
                manifest=created.manifest or prepared.manifest,
            )
        if version != prepared.version:
            await self.emit(
                "manifest.differs",
                f"the network built manifest version {version[:12]}… where {prepared.rules} rules "
                f"give {prepared.version[:12]}…; its own manifest is kept and sent",
                dseq=created.dseq,
                version=version,
                expected=prepared.version,
            )
        await self.emit(
            "deployment.created",
            f"deployment {created.dseq} created" + (" (recovered)" if created.recovered else ""),
            dseq=created.dseq,
            version=version,
            recovered=created.recovered,
        )
        return created

    async def wait_for_bids(
        self,
        dseq: int,
        prepared: PreparedDeployment,
        *,
        gseqs: Sequence[int] | None = None,
        avoid_providers: Iterable[str] = (),
        just_created: bool = False,
    ) -> tuple[list[GroupRanking], dict[int, RankedBid]]:
        """Poll bids until the policy's best choice is in for every group; choose them.

        Args:
            dseq: The deployment.
            prepared: Its prepared SDL.
            gseqs: The groups that need a lease (default: all).
            avoid_providers: Providers not to choose (those serving other groups, or a group's
                previous provider).
            just_created: The create returned just now: no bid can be in before the next
                block, so the first poll waits for it.

        Returns:
            The rankings (with every bid's reason) and the chosen bid per gseq.

        Raises:
            NoBidsError: no acceptable choice within ``bid_timeout``, with a diagnosis.
        """
        return await wait_for_bids(
            self,
            dseq,
            prepared,
            gseqs=gseqs,
            avoid_providers=avoid_providers,
            just_created=just_created,
        )

    async def lease(
        self,
        dseq: int,
        chosen: Sequence[Bid],
        prepared: PreparedDeployment,
        *,
        manifest: str | None = None,
        existing: Sequence[Lease] = (),
    ) -> Deployment:
        """Lease the chosen bids and send the manifest (journal around it).

        Args:
            dseq: The deployment.
            chosen: Bids to lease (their prices count against the budget).
            prepared: The prepared SDL.
            manifest: The manifest string to send (the one create returned; default: ours).
            existing: Leases already active (their prices count against the budget).

        Raises:
            BudgetExceeded: the leases would cost more per block than the budget allows.
            LeaseError: a bid was no longer open (with diagnosis).
            ManifestRejected: a provider refused the manifest (with diagnosis).
        """
        await self._check_lease_budget(chosen, existing, prepared)
        if self._journal is not None:
            await self._journal.before_lease(dseq=dseq, bids=[b.id for b in chosen])
        try:
            deployment = await self.backend.create_leases(
                dseq,
                [b.id for b in chosen],
                manifest=manifest or prepared.manifest,
                sdl=prepared.sdl,
            )
        except Minds371Error as exc:
            _add_diagnosis(exc)
            raise
        wanted = {(b.id.gseq, b.id.oseq, b.provider) for b in chosen}
        leases = [
            lease
            for lease in deployment.active_leases
            if (lease.id.gseq, lease.id.oseq, lease.id.provider) in wanted
        ]
        if self._journal is not None:
            await self._journal.leased(dseq=dseq, leases=leases)
        for lease in leases:
            await self.emit(
                "lease.created",
                f"leased gseq {lease.id.gseq} from {lease.id.provider} at "
                f"{lease.price.plain} {lease.price.denom}/block",
                dseq=dseq,
                gseq=lease.id.gseq,
                oseq=lease.id.oseq,
                provider=lease.id.provider,
                price=lease.price.plain,
            )
        await self.emit("manifest.sent", f"manifest sent for deployment {dseq}", dseq=dseq)
        return deployment

    async def _check_lease_budget(
        self, chosen: Sequence[Bid], existing: Sequence[Lease], prepared: PreparedDeployment
    ) -> None:
        limit = self.budget.max_price_per_block
        total = sum((lease.price.amount for lease in existing), Decimal(0))
        total += sum((bid.price.amount for bid in chosen), Decimal(0))
        if limit is not None and total > limit:
            raise BudgetExceeded(
                f"leasing would cost {total} {prepared.denom}/block, over the budget of {limit}",
                details={"limit": str(limit), "requested": str(total)},
            )

    async def wait_until_ready(
        self,
        dseq: int,
        prepared: PreparedDeployment,
        *,
        gseqs: Sequence[int] | None = None,
        observed: Deployment | None = None,
    ) -> Deployment:
        """Wait until every service of every wanted group's lease is ready.

        Args:
            dseq: The deployment.
            prepared: Its prepared SDL.
            gseqs: The groups that must be ready (default: all).
            observed: The deployment as just returned (by :meth:`lease`): it counts as the
                first poll.

        Raises:
            LeaseError: a lease closed, or its provider went offline (with diagnosis).
            InsufficientFunds: the escrow ran dry.
            MarketError: not ready within ``ready_timeout``: image pull failure, crash loop or
                plain slowness (with diagnosis).
        """
        watch = ReadinessWatch(
            self.backend,
            dseq,
            tuple(gseqs or prepared.gseqs),
            timeout=self.ready_timeout,
            poll=self.poll_interval,
            emit=self.emit,
            probe=self.probe_endpoints,
            observed=observed,
        )
        with self.waiting():
            return await watch.run()

    # -- the whole job ------------------------------------------------------------------------

    async def deploy(
        self, sdl: str, *, deposit: Decimal | None = None, avoid_providers: Iterable[str] = ()
    ) -> DeploymentResult:
        """Create → wait for bids → select → lease → send manifest → wait until ready.

        ``avoid_providers`` are not leased from (those serving the other replicas of a
        redundant workload laid out as one deployment per replica).

        Raises:
            ValidationError: the SDL is invalid (nothing spent).
            BudgetExceeded: over budget (nothing spent).
            NoBidsError, LeaseError, ManifestRejected, InsufficientFunds, MarketError: a later
                step failed; the deployment was closed unless ``close_on_failure`` is false.
        """
        prepared = self.prepare(sdl)
        await self.emit("deployment.validated", "SDL valid", version=prepared.version)
        await self.check_budget(prepared, deposit=deposit)
        # Always an explicit deposit, the one the budget was checked against: Console refuses a
        # create without one (400 "deposit is required").
        created = await self.create(
            prepared, deposit=MIN_DEPOSIT_UACT if deposit is None else deposit
        )
        try:
            rankings, chosen = await self.wait_for_bids(
                created.dseq,
                prepared,
                avoid_providers=avoid_providers,
                just_created=not created.recovered,
            )
            leased = await self.lease(
                created.dseq,
                [r.bid for r in chosen.values()],
                prepared,
                manifest=created.manifest,
            )
            deployment = await self.wait_until_ready(created.dseq, prepared, observed=leased)
        except BaseException as exc:
            await self._close_after_failure(created.dseq, exc)
            raise
        return await self._result(deployment, prepared, rankings, manifest=created.manifest)

    async def _close_after_failure(self, dseq: int, exc: BaseException) -> None:
        if not self.close_on_failure:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(60):
            try:
                await self.close(dseq, reason="failure")
            except Minds371Error as close_exc:
                _log.error("minds371.akash.close_failed", dseq=dseq, error=close_exc.message)
                if isinstance(exc, Minds371Error):
                    exc.details["close_failed"] = close_exc.message

    async def _result(
        self,
        deployment: Deployment,
        prepared: PreparedDeployment,
        rankings: Sequence[GroupRanking] = (),
        *,
        manifest: str = "",
    ) -> DeploymentResult:
        cost = await self.cost(deployment, prepared)
        result = DeploymentResult(
            dseq=deployment.dseq,
            owner=deployment.owner,
            # The version of the manifest the providers run (the one the network returned).
            version=_version_of(manifest) if manifest else prepared.version,
            leases=deployment.active_leases,
            endpoints=tuple(deployment.endpoints()),
            cost=cost,
            bids=tuple(rankings),
            deployment=deployment,
        )
        await self.emit(
            "deployment.ready",
            f"deployment {deployment.dseq} ready: "
            + (", ".join(e.url for e in result.endpoints) or "no public endpoints"),
            dseq=deployment.dseq,
            endpoints=[e.url for e in result.endpoints],
            usd_per_month=cost.summary()["usd_per_month"],
        )
        return result

    # -- recovery and redundancy --------------------------------------------------------------

    async def find_existing(self, sdl: str) -> list[Deployment]:
        """Active deployments created from this SDL's manifest (same version hash)."""
        return await self.backend.find_deployments(self.prepare(sdl).version)

    async def resume(
        self,
        dseq: int,
        sdl: str,
        *,
        avoid_providers: Iterable[str] = (),
        manifest: str | None = None,
    ) -> DeploymentResult:
        """Continue a deployment from its dseq.

        Re-sends the manifest to existing leases, bids and leases the groups without one, and
        waits until every service is ready.

        Args:
            dseq: The deployment.
            sdl: Its SDL.
            avoid_providers: Providers not to lease from.
            manifest: The manifest the network returned when it created (or last updated) the
                deployment, as journaled: the only one whose re-hash equals the on-chain
                version when the network built it by other rules (Console). Default: the
                manifest this SDL gives under the backend's rules.

        Raises:
            NotFound: no such deployment.
            LeaseError: the deployment is closed.
        """
        prepared = self.prepare(sdl)
        manifest = _sendable_manifest(manifest, prepared)
        deployment = await self.backend.get_deployment(dseq)
        if not deployment.active:
            raise LeaseError(f"deployment {dseq} is closed; create a new one")
        existing = deployment.active_leases
        if existing:
            await self.backend.send_manifest(
                dseq, [lease.id for lease in existing], manifest=manifest, sdl=sdl
            )
            await self.emit("manifest.sent", f"manifest re-sent for deployment {dseq}", dseq=dseq)
        leased = {lease.id.gseq for lease in existing}
        missing = [g for g in prepared.gseqs if g not in leased]
        rankings: list[GroupRanking] = []
        if missing:
            avoid = {*avoid_providers, *(lease.id.provider for lease in existing)}
            rankings, chosen = await self.wait_for_bids(
                dseq, prepared, gseqs=missing, avoid_providers=avoid
            )
            await self.lease(
                dseq,
                [r.bid for r in chosen.values()],
                prepared,
                manifest=manifest,
                existing=existing,
            )
        deployment = await self.wait_until_ready(dseq, prepared)
        return await self._result(deployment, prepared, rankings, manifest=manifest)

    async def ready_result(
        self, deployment: Deployment, sdl: str, *, manifest: str | None = None
    ) -> DeploymentResult:
        """The result of a deployment that just became ready, as :meth:`deploy` returns one.

        For a deployment this provider has just updated and waited for (an in-place update):
        nothing is sent and nothing is waited for again.

        Args:
            deployment: The deployment as :meth:`wait_until_ready` returned it.
            sdl: Its SDL.
            manifest: The manifest the network returned for it, as journaled (see
                :meth:`resume`).
        """
        prepared = self.prepare(sdl)
        return await self._result(
            deployment, prepared, manifest=_sendable_manifest(manifest, prepared)
        )

    async def relet_group(
        self, dseq: int, gseq: int, sdl: str, *, manifest: str | None = None
    ) -> DeploymentResult:
        """Re-bid and re-lease group ``gseq`` after its lease closed, on another provider.

        Akash reopens the group's order with the next ``oseq``; the providers that served this
        group before and those serving other groups are avoided. ``manifest`` is the journaled
        one the network returned (see :meth:`resume`).
        """
        deployment = await self.backend.get_deployment(dseq)
        before = {lease.id.provider for lease in deployment.leases if lease.id.gseq == gseq}
        await self.emit("lease.relet", f"re-leasing gseq {gseq} of {dseq}", dseq=dseq, gseq=gseq)
        return await self.resume(dseq, sdl, avoid_providers=before, manifest=manifest)


def _version_of(manifest: str) -> str:
    """The version a manifest string re-hashes to (the sha256 of its canonical bytes)."""
    return hashlib.sha256(manifest.encode("utf-8", "replace")).hexdigest()


def _add_diagnosis(exc: Minds371Error) -> None:
    if "hostname not allowed" in exc.message:  # the provider's words, through any backend
        attach(exc, diagnose_hostname_in_use(exc.message))
    elif isinstance(exc, ManifestRejected):
        attach(exc, diagnose_manifest_rejected(exc.message))
    elif isinstance(exc, InsufficientFunds):
        attach(exc, diagnose_insufficient_funds(exc.message))
    elif isinstance(exc, LeaseError):
        attach(exc, diagnose_lease_failed(exc.message))


def _sendable_manifest(journaled: str | None, prepared: PreparedDeployment) -> str:
    """The manifest to send: the journaled one, or this SDL's own when none was journaled.

    The journal stores registry passwords redacted: they are put back from the SDL's manifest.
    """
    if not journaled:
        return prepared.manifest
    return restore_credentials(journaled, prepared.manifest) or prepared.manifest
