"""Day-2 operations on a deployment: status, bids, logs, events, update, deposit, close, cost."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from decimal import Decimal

import anyio

from minds371.errors import BudgetExceeded
from minds371_akash._deploy_types import PreparedDeployment
from minds371_akash._provider_base import ProviderBase
from minds371_akash.bidding import GroupRanking, admit_bids, rank_bids
from minds371_akash.market import Deployment, KubeEvent, Lease, LogLine, Price, Runway
from minds371_akash.market._funding import current_runway
from minds371_akash.pricing import CostReport, cost_report

__all__ = ["DeploymentOperations"]


class DeploymentOperations(ProviderBase):
    """What can be done with a deployment once it exists (any deployment, by dseq)."""

    async def status(self, dseq: int) -> Deployment:
        """The deployment with its leases and their live status."""
        return await self.backend.get_deployment(dseq)

    async def runway(self, deployment: Deployment) -> Runway | None:
        """How long the deployment's escrow lasts at its current price (hours of 6 s blocks).

        Counted from the chain's current height where the backend can tell it (the escrow
        shows funds as of its last settlement, which may be hours old), else from that
        settlement.
        """
        return await current_runway(self.backend, deployment)

    async def bids(self, dseq: int) -> list[GroupRanking]:
        """Every bid of the deployment, open ones ranked by the policy, each with its reason."""
        providers = await self._providers()
        bids, _ = admit_bids(await self.backend.list_bids(dseq))
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
        """Update the deployment's SDL (only the manifest may change; resources may not).

        On Console this is ``PUT /v1/deployments/{dseq}``: Console builds the new manifest,
        updates the on-chain version when it changed and sends the manifest to the providers
        itself (``deployment-writer.service.ts`` ``updateByUserIdAndDseq``); its answer carries
        the version it recorded but not the manifest. The manifest journaled for later resends
        is the one that re-hashes to that recorded version.
        """
        prepared = self.prepare(sdl)
        await self.check_budget(prepared, deposit=Decimal(0))
        deployment = await self.backend.update_deployment(dseq, sdl)
        recorded = (deployment.version or "").lower()
        if recorded and recorded != prepared.version:
            await self.emit(
                "manifest.unknown",
                f"deployment {dseq} records version {recorded[:12]}…, not the "
                f"{prepared.rules}-rules manifest's {prepared.version[:12]}…: no manifest known "
                "to match it is journaled, so providers will refuse a resend",
                dseq=dseq,
                version=recorded,
                expected=prepared.version,
            )
        elif self._journal is not None:
            await self._journal.updated(
                dseq=dseq, version=prepared.version, manifest=prepared.manifest
            )
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
