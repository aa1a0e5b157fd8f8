"""Configuration and plumbing shared by every step and operation of the provider.

:class:`ProviderBase` holds the backend, bid policy, budget, hooks and timeouts, and offers the
pieces the steps share: progress events, the polling pace, the block time for dollar figures,
SDL preparation, the budget check and a cached provider listing.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import anyio

from minds371.errors import BudgetExceeded, ProviderError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_akash._deploy_types import (
    Budget,
    DeployEvent,
    DeployJournal,
    EventHook,
    PreparedDeployment,
    SdlRules,
)
from minds371_akash._prepare import prepare_sdl
from minds371_akash.bidding import BidPolicy
from minds371_akash.market import MarketBackend, Price, Provider
from minds371_akash.pricing import usd_per_month

__all__ = ["MIN_DEPOSIT_UACT", "NETWORK_BLOCK_TIME", "ProviderBase"]

#: Akash's nominal block time (chain-sdk ``AverageBlockTime``), when the backend gives none.
NETWORK_BLOCK_TIME = 6.0
#: How long a listing of providers is reused.
_PROVIDERS_TTL = 30.0
#: Concurrent waits one poll interval serves before the interval stretches.
_POLLERS_PER_INTERVAL = 20
#: The chain's minimum deposit since v2.0.0 (0.5 ACT); used when no deposit is given.
MIN_DEPOSIT_UACT = Decimal(500_000)
_log = get_logger("minds371.akash.provider")


class _Waiters:
    """What every provider on one backend shares.

    How many waits poll it at once, and the backend's provider listing (taken by one of them,
    served to all for ``_PROVIDERS_TTL``).
    """

    __slots__ = ("count", "lock", "providers")

    def __init__(self) -> None:
        self.count = 0
        self.providers: tuple[float, dict[str, Provider]] | None = None
        self.lock: anyio.Lock | None = None


_waiters: weakref.WeakKeyDictionary[Any, _Waiters] = weakref.WeakKeyDictionary()


def _waiters_on(backend: MarketBackend) -> _Waiters:
    """The wait count shared by every provider on ``backend`` (its own if it cannot be shared)."""
    try:
        found = _waiters.get(backend)
        if found is None:
            found = _waiters[backend] = _Waiters()
    except TypeError:  # not hashable or not weakly referenceable: count this provider's alone
        return _Waiters()
    return found


class ProviderBase(AsyncResource):
    """The provider's configuration and shared plumbing (see :class:`AkashIntegrationProvider`)."""

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
        unique_versions: bool = False,
        prepared: PreparedDeployment | None = None,
    ) -> None:
        self.backend = backend
        self._prepared = prepared
        self.unique_versions = unique_versions
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
        self._waiters = _waiters_on(backend)

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

        The interval stretches with the number of deployments waited on at once through the
        same backend (beyond :data:`_POLLERS_PER_INTERVAL`), by this provider or any other (a
        runtime makes one per task and shares the backend), so that many concurrent
        deployments do not flood the marketplace with status requests.
        """
        if self._poll_interval is not None:
            base = self._poll_interval
        else:
            block = await self.backend.block_time()
            base = max(0.02, block / 2) if block else 1.0
        return base * max(1.0, self._waiters.count / _POLLERS_PER_INTERVAL)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count one wait that polls the backend (bids, readiness) while the block runs."""
        self._waiters.count += 1
        try:
            yield
        finally:
            self._waiters.count -= 1

    async def pricing_block_time(self) -> float | None:
        """Seconds per block for dollar figures (``None``: the Console's 6.098 s)."""
        if self._pricing_block_time is not None:
            return self._pricing_block_time
        if self.backend.name == "sandbox":
            return None
        return await self.backend.block_time()

    # -- steps --------------------------------------------------------------------------------

    def prepare(self, sdl: str) -> PreparedDeployment:
        """Parse and validate the SDL once (no I/O), by the rules of the backend's network.

        Console builds the manifest and its on-chain version with chain-sdk TypeScript, whose
        rules differ from Go's (the CLI's and the providers'); the backend says which apply.

        Raises:
            ValidationError: the SDL is invalid (every issue named).
        """
        known = self._prepared
        if known is not None and known.sdl == sdl and known.rules == self.sdl_rules:
            return known
        return prepare_sdl(sdl, rules=self.sdl_rules)

    @property
    def sdl_rules(self) -> SdlRules:
        """Whose SDL rules the backend's network applies (``go`` unless it says otherwise)."""
        rules = getattr(self.backend, "sdl_rules", "go")
        return "console" if rules == "console" else "go"

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

    async def _providers(self) -> dict[str, Provider]:
        # One listing serves every deployment on this backend for a while (every task's provider
        # and the watcher's checks share it): providers change slowly, and under load one
        # request per deployment adds up.
        shared = self._waiters
        if shared.lock is None:
            shared.lock = anyio.Lock()
        async with shared.lock:
            now = anyio.current_time()
            if shared.providers is not None and now - shared.providers[0] < _PROVIDERS_TTL:
                return dict(shared.providers[1])
            try:
                listed = {p.address: p for p in await self.backend.list_providers()}
            except ProviderError as exc:
                _log.warning("minds371.akash.providers_unavailable", error=exc.message)
                return {}
            shared.providers = (now, listed)
            return dict(listed)
