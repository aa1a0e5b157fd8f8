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

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import anyio

from minds371.errors import (
    BudgetExceeded,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    Minds371Error,
    NoBidsError,
    ProviderError,
)
from minds371.logging import get_logger
from minds371_akash._deploy_types import (
    Budget,
    DeployEvent,
    DeployJournal,
    DeploymentResult,
    EventHook,
    PreparedDeployment,
)
from minds371_akash._prepare import prepare_sdl
from minds371_akash._readiness import ReadinessWatch
from minds371_akash.bidding import BidPolicy, GroupRanking, RankedBid, rank_bids, select_bids
from minds371_akash.bidding import waiting_is_over as _waiting_is_over
from minds371_akash.diagnose import (
    GroupRequirements,
    attach,
    diagnose_insufficient_funds,
    diagnose_lease_failed,
    diagnose_manifest_rejected,
    diagnose_no_bids,
    provider_fits,
)
from minds371_akash.market import (
    Bid,
    CreatedDeployment,
    Deployment,
    KubeEvent,
    Lease,
    LogLine,
    MarketBackend,
    Price,
    Provider,
)
from minds371_akash.pricing import CostReport, cost_report, usd_per_month

__all__ = ["MIN_DEPOSIT_UACT", "AkashIntegrationProvider"]

#: Akash's nominal block time (chain-sdk ``AverageBlockTime``), when the backend gives none.
_NETWORK_BLOCK_TIME = 6.0
#: How long a listing of providers is reused.
_PROVIDERS_TTL = 30.0
#: Concurrent waits one poll interval serves before the interval stretches.
_POLLERS_PER_INTERVAL = 20
#: The chain's minimum deposit since v2.0.0 (0.5 ACT); used when no deposit is given.
MIN_DEPOSIT_UACT = Decimal(500_000)
_log = get_logger("minds371.akash.provider")


class AkashIntegrationProvider:
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
    """

    def __init__(
        self,
        backend: MarketBackend,
        *,
        policy: BidPolicy | None = None,
        budget: Budget | None = None,
        on_event: EventHook | None = None,
        journal: DeployJournal | None = None,
        bid_timeout: float = 300.0,
        ready_timeout: float = 600.0,
        poll_interval: float | None = None,
        close_on_failure: bool = True,
        probe_endpoints: bool = False,
        own_backend: bool = False,
        pricing_block_time: float | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy or BidPolicy()
        self.budget = budget or Budget()
        self._on_event = on_event
        self._journal = journal
        self.bid_timeout = bid_timeout
        self.ready_timeout = ready_timeout
        self._poll_interval = poll_interval
        self.close_on_failure = close_on_failure
        self.probe_endpoints = probe_endpoints
        self._own_backend = own_backend
        self._pricing_block_time = pricing_block_time
        self._provider_cache: tuple[float, dict[str, Provider]] | None = None
        self._providers_lock: anyio.Lock | None = None
        self._waiting = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the backend if this provider owns it."""
        if self._own_backend:
            await self.backend.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    async def emit(self, type: str, message: str, **data: Any) -> None:
        """Send one progress event to ``on_event`` (errors in the hook are logged, not raised)."""
        # Bid reasons and hashes are for the hook; the log line keeps the scalar facts.
        _log.info(
            f"minds371.akash.{type}",
            **{k: v for k, v in data.items() if k not in ("bids", "version")},
        )
        if self._on_event is None:
            return
        try:
            outcome = self._on_event(DeployEvent(type=type, message=message, data=data))
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:  # a progress display must never break a deployment
            _log.warning("minds371.akash.event_hook_failed", error=repr(exc))

    async def poll_interval(self) -> float:
        """Seconds between polls: as configured, else half a block, else one second.

        The interval stretches with the number of deployments this provider is waiting on at
        once (beyond :data:`_POLLERS_PER_INTERVAL`), so that many concurrent deployments do not
        flood the marketplace with status requests.
        """
        if self._poll_interval is not None:
            base = self._poll_interval
        else:
            block = await self.backend.block_time()
            base = max(0.02, block / 2) if block else 1.0
        return base * max(1.0, self._waiting / _POLLERS_PER_INTERVAL)

    async def pricing_block_time(self) -> float | None:
        """Seconds per block for dollar figures (``None``: the Console's 6.098 s)."""
        if self._pricing_block_time is not None:
            return self._pricing_block_time
        if self.backend.name == "sandbox":
            return None
        return await self.backend.block_time()

    # -- steps --------------------------------------------------------------------------------

    def prepare(self, sdl: str) -> PreparedDeployment:
        """Parse and validate the SDL once (no I/O).

        Raises:
            ValidationError: the SDL is invalid (every issue named).
        """
        return prepare_sdl(sdl)

    async def check_budget(
        self, prepared: PreparedDeployment, *, deposit: Decimal | None = None
    ) -> None:
        """Refuse what the budget does not allow, before anything is spent.

        The SDL's placement prices are the most its leases can ever cost (the chain refuses
        bids above them), so checking them bounds every later spend.

        Raises:
            BudgetExceeded: with ``details`` naming the limit and the requested amount.
        """
        budget = self.budget
        limit = budget.max_price_per_block
        if limit is not None and prepared.max_price_per_block > limit:
            raise BudgetExceeded(
                f"the SDL allows up to {prepared.max_price_per_block} {prepared.denom}/block, "
                f"over the budget of {limit}; lower the placement pricing in the SDL",
                details={"limit": str(limit), "requested": str(prepared.max_price_per_block)},
            )
        if budget.max_usd_per_month is not None:
            price = Price(denom=prepared.denom, amount=prepared.max_price_per_block)
            monthly = usd_per_month(price, block_time=await self.pricing_block_time())
            if monthly is None or monthly > budget.max_usd_per_month:
                shown = "unknown" if monthly is None else f"{monthly:.2f}"
                raise BudgetExceeded(
                    f"the SDL may cost up to {shown} USD/month, over the budget of "
                    f"{budget.max_usd_per_month} USD/month",
                    details={"limit": str(budget.max_usd_per_month), "requested": shown},
                )
        effective = MIN_DEPOSIT_UACT if deposit is None else deposit
        if budget.max_deposit is not None and effective > budget.max_deposit:
            raise BudgetExceeded(
                f"the deposit of {effective} uact is over the budget of {budget.max_deposit} uact"
                + (" (the chain's minimum deposit is 500000 uact)" if deposit is None else ""),
                details={"limit": str(budget.max_deposit), "requested": str(effective)},
            )

    async def create(
        self, prepared: PreparedDeployment, *, deposit: Decimal | None = None
    ) -> CreatedDeployment:
        """Create the deployment (journal ``before_create`` first, ``created`` right after)."""
        if self._journal is not None:
            await self._journal.before_create(version=prepared.version, sdl=prepared.sdl)
        created = await self.backend.create_deployment(
            prepared.sdl, version=prepared.version, manifest=prepared.manifest, deposit=deposit
        )
        if self._journal is not None:
            await self._journal.created(
                dseq=created.dseq, version=prepared.version, recovered=created.recovered
            )
        await self.emit(
            "deployment.created",
            f"deployment {created.dseq} created" + (" (recovered)" if created.recovered else ""),
            dseq=created.dseq,
            version=prepared.version,
            recovered=created.recovered,
        )
        return created

    async def _providers(self) -> dict[str, Provider]:
        # One listing serves every deployment of this provider for a while: providers change
        # slowly, and under load one request per deployment adds up.
        if self._providers_lock is None:
            self._providers_lock = anyio.Lock()
        async with self._providers_lock:
            now = anyio.current_time()
            if self._provider_cache is not None and now - self._provider_cache[0] < _PROVIDERS_TTL:
                return dict(self._provider_cache[1])
            try:
                listed = {p.address: p for p in await self.backend.list_providers()}
            except ProviderError as exc:
                _log.warning("minds371.akash.providers_unavailable", error=exc.message)
                return {}
            self._provider_cache = (now, listed)
            return dict(listed)

    async def wait_for_bids(
        self,
        dseq: int,
        prepared: PreparedDeployment,
        *,
        gseqs: Sequence[int] | None = None,
        avoid_providers: Iterable[str] = (),
    ) -> tuple[list[GroupRanking], dict[int, RankedBid]]:
        """Poll bids until the policy's best choice is in for every group; choose them.

        Returns:
            The rankings (with every bid's reason) and the chosen bid per gseq.

        Raises:
            NoBidsError: no acceptable choice within ``bid_timeout``, with a diagnosis.
        """
        wanted = tuple(gseqs or prepared.gseqs)
        avoid = frozenset(avoid_providers)
        providers = await self._providers()
        groups = [g for g in prepared.groups if g.gseq in wanted]
        candidates = _candidates(providers.values(), groups, self.policy, avoid)
        block = await self.backend.block_time() or _NETWORK_BLOCK_TIME
        first_bid_at: dict[int, float] = {}
        seen = -1
        start = anyio.current_time()
        rankings: list[GroupRanking] = []
        self._waiting += 1
        try:
            while True:
                now = anyio.current_time()
                try:
                    bids = [b for b in await self.backend.list_bids(dseq) if b.id.gseq in wanted]
                except ProviderError as exc:
                    if not exc.retryable:
                        raise
                    bids = None
                if bids is not None:
                    for address in {b.provider for b in bids} - providers.keys():
                        try:
                            providers[address] = await self.backend.get_provider(address)
                        except ProviderError:
                            pass
                    rankings = rank_bids(bids, providers, self.policy)
                    for ranking in rankings:
                        if ranking.eligible and ranking.gseq not in first_bid_at:
                            first_bid_at[ranking.gseq] = now
                    if len(bids) != seen:
                        seen = len(bids)
                        await self.emit(
                            "bids.received",
                            f"{seen} bid(s) on deployment {dseq}",
                            dseq=dseq,
                            count=seen,
                            bids=[r.reason for g in rankings for r in g.ranked],
                        )
                    over = _waiting_is_over(
                        rankings,
                        wanted,
                        self.policy,
                        first_bid_at=first_bid_at,
                        now=now,
                        block_time=block,
                        candidates=candidates,
                    )
                    if over:
                        chosen = select_bids(rankings, self.policy, avoid_providers=avoid)
                        if all(g in chosen for g in wanted):
                            await self.emit(
                                "bids.selected",
                                "chose "
                                + ", ".join(f"gseq {g}: {r.reason}" for g, r in chosen.items()),
                                dseq=dseq,
                                chosen={g: r.bid.provider for g, r in chosen.items()},
                            )
                            return rankings, chosen
                if now - start >= self.bid_timeout:
                    break
                poll = await self.poll_interval()
                await anyio.sleep(min(poll, max(0.0, self.bid_timeout - (now - start)) + 0.001))
        finally:
            self._waiting -= 1
        chosen = select_bids(rankings, self.policy, avoid_providers=avoid)
        missing = [g for g in groups if g.gseq not in chosen]
        diagnosis = diagnose_no_bids(
            missing, list(providers.values()), rankings, waited=anyio.current_time() - start
        )
        raise attach(
            NoBidsError(
                f"no acceptable bid for {', '.join(repr(g.name) for g in missing)} of deployment "
                f"{dseq} within {self.bid_timeout:.0f} s",
                details={"dseq": dseq},
            ),
            diagnosis,
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
                f"{lease.price.amount} {lease.price.denom}/block",
                dseq=dseq,
                gseq=lease.id.gseq,
                oseq=lease.id.oseq,
                provider=lease.id.provider,
                price=str(lease.price.amount),
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
    ) -> Deployment:
        """Wait until every service of every wanted group's lease is ready.

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
        )
        self._waiting += 1
        try:
            return await watch.run()
        finally:
            self._waiting -= 1

    # -- the whole job ------------------------------------------------------------------------

    async def deploy(self, sdl: str, *, deposit: Decimal | None = None) -> DeploymentResult:
        """Create → wait for bids → select → lease → send manifest → wait until ready.

        Raises:
            ValidationError: the SDL is invalid (nothing spent).
            BudgetExceeded: over budget (nothing spent).
            NoBidsError, LeaseError, ManifestRejected, InsufficientFunds, MarketError: a later
                step failed; the deployment was closed unless ``close_on_failure`` is false.
        """
        prepared = self.prepare(sdl)
        await self.emit("deployment.validated", "SDL valid", version=prepared.version)
        await self.check_budget(prepared, deposit=deposit)
        created = await self.create(prepared, deposit=deposit)
        try:
            rankings, chosen = await self.wait_for_bids(created.dseq, prepared)
            await self.lease(
                created.dseq,
                [r.bid for r in chosen.values()],
                prepared,
                manifest=created.manifest,
            )
            deployment = await self.wait_until_ready(created.dseq, prepared)
        except BaseException as exc:
            await self._close_after_failure(created.dseq, exc)
            raise
        return await self._result(deployment, prepared, rankings)

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
    ) -> DeploymentResult:
        cost = await self.cost(deployment, prepared)
        result = DeploymentResult(
            dseq=deployment.dseq,
            owner=deployment.owner,
            version=prepared.version,
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
        self, dseq: int, sdl: str, *, avoid_providers: Iterable[str] = ()
    ) -> DeploymentResult:
        """Continue a deployment from its dseq.

        Re-sends the manifest to existing leases, bids and leases the groups without one, and
        waits until every service is ready.

        Raises:
            NotFound: no such deployment.
            LeaseError: the deployment is closed.
        """
        prepared = self.prepare(sdl)
        deployment = await self.backend.get_deployment(dseq)
        if not deployment.active:
            raise LeaseError(f"deployment {dseq} is closed; create a new one")
        existing = deployment.active_leases
        if existing:
            await self.backend.send_manifest(
                dseq, [lease.id for lease in existing], manifest=prepared.manifest, sdl=sdl
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
            await self.lease(dseq, [r.bid for r in chosen.values()], prepared, existing=existing)
        deployment = await self.wait_until_ready(dseq, prepared)
        return await self._result(deployment, prepared, rankings)

    async def relet_group(self, dseq: int, gseq: int, sdl: str) -> DeploymentResult:
        """Re-bid and re-lease group ``gseq`` after its lease closed, on another provider.

        Akash reopens the group's order with the next ``oseq``; the providers that served this
        group before and those serving other groups are avoided.
        """
        deployment = await self.backend.get_deployment(dseq)
        before = {lease.id.provider for lease in deployment.leases if lease.id.gseq == gseq}
        await self.emit("lease.relet", f"re-leasing gseq {gseq} of {dseq}", dseq=dseq, gseq=gseq)
        return await self.resume(dseq, sdl, avoid_providers=before)

    # -- day-2 operations ---------------------------------------------------------------------

    async def status(self, dseq: int) -> Deployment:
        """The deployment with its leases and their live status."""
        return await self.backend.get_deployment(dseq)

    async def bids(self, dseq: int) -> list[GroupRanking]:
        """Every bid of the deployment, open ones ranked by the policy, each with its reason."""
        providers = await self._providers()
        bids = await self.backend.list_bids(dseq)
        return rank_bids(bids, providers, self.policy, include_all=True)

    async def logs(
        self,
        dseq: int,
        *,
        services: Sequence[str] = (),
        tail: int | None = None,
    ) -> AsyncGenerator[tuple[Lease, LogLine], None]:
        """Log lines of every active lease, one lease after another (no follow)."""
        deployment = await self.backend.get_deployment(dseq)
        for lease in deployment.active_leases:
            stream = self.backend.lease_logs(lease.id, services=services, tail=tail)
            async with aclosing(stream):
                async for line in stream:
                    yield lease, line

    async def events(self, dseq: int) -> AsyncGenerator[tuple[Lease, KubeEvent], None]:
        """Kubernetes events of every active lease (no follow)."""
        deployment = await self.backend.get_deployment(dseq)
        for lease in deployment.active_leases:
            stream = self.backend.lease_events(lease.id)
            async with aclosing(stream):
                async for event in stream:
                    yield lease, event

    async def stream_logs(
        self,
        dseq: int,
        on_line: Callable[[Lease, LogLine], Awaitable[None] | None],
        *,
        services: Sequence[str] = (),
        tail: int | None = None,
        follow: bool = True,
    ) -> None:
        """Follow the logs of every active lease at once, calling ``on_line`` for each line."""
        deployment = await self.backend.get_deployment(dseq)

        async def pump(lease: Lease) -> None:
            stream = self.backend.lease_logs(lease.id, services=services, tail=tail, follow=follow)
            async with aclosing(stream):
                async for line in stream:
                    outcome = on_line(lease, line)
                    if inspect.isawaitable(outcome):
                        await outcome

        async with anyio.create_task_group() as tg:
            for lease in deployment.active_leases:
                tg.start_soon(pump, lease)

    async def update(self, dseq: int, sdl: str) -> Deployment:
        """Update the deployment's SDL (only the manifest may change; resources may not)."""
        prepared = self.prepare(sdl)
        await self.check_budget(prepared, deposit=Decimal(0))
        deployment = await self.backend.update_deployment(dseq, sdl)
        await self.emit("deployment.updated", f"deployment {dseq} updated", dseq=dseq)
        return deployment

    async def deposit(self, dseq: int, amount: Decimal) -> Deployment:
        """Add ``amount`` uact to the deployment's escrow, within ``budget.max_deposit``."""
        limit = self.budget.max_deposit
        if limit is not None and amount > limit:
            raise BudgetExceeded(
                f"a deposit of {amount} uact is over the budget of {limit} uact",
                details={"limit": str(limit), "requested": str(amount)},
            )
        deployment = await self.backend.deposit(dseq, Price(denom="uact", amount=amount))
        await self.emit("deployment.deposit", f"deposited {amount} uact", dseq=dseq)
        return deployment

    async def close(self, dseq: int, *, reason: str = "requested") -> None:
        """Close the deployment ``dseq`` (only that one) and its leases."""
        await self.backend.close_deployment(dseq)
        if self._journal is not None:
            await self._journal.closed(dseq=dseq, reason=reason)
        await self.emit("deployment.closed", f"deployment {dseq} closed ({reason})", dseq=dseq)

    async def cost(self, deployment: Deployment, prepared: PreparedDeployment) -> CostReport:
        """The cost report of the deployment's active leases."""
        return cost_report(
            [lease.price for lease in deployment.active_leases],
            prepared.needs,
            block_time=await self.pricing_block_time(),
        )


def _candidates(
    providers: Iterable[Provider],
    groups: Sequence[GroupRequirements],
    policy: BidPolicy,
    avoid: frozenset[str],
) -> int | None:
    """How many known providers could bid at all; ``None`` when the backend lists none."""
    listed = [p for p in providers if p.address not in avoid]
    if not listed:
        return None
    return sum(1 for p in listed if all(provider_fits(g, p, policy) for g in groups))


def _add_diagnosis(exc: Minds371Error) -> None:
    if isinstance(exc, ManifestRejected):
        attach(exc, diagnose_manifest_rejected(exc.message))
    elif isinstance(exc, InsufficientFunds):
        attach(exc, diagnose_insufficient_funds(exc.message))
    elif isinstance(exc, LeaseError):
        attach(exc, diagnose_lease_failed(exc.message))
