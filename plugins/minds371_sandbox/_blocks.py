"""One block of the sandbox chain: providers bid, bids expire, escrow pays, manifests time out.

Every ``auto_top_up_every_blocks`` blocks Console's auto top-up sweep runs (:mod:`._top_up`).

Runs over the active deployments of a :class:`~._world.World` (``World.advance`` calls
:func:`produce_block` once per block). Everything here happens "at" the new height.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from minds371_sandbox._fit import decide
from minds371_sandbox._records import Bid, Deployment, Group, Order
from minds371_sandbox._top_up import sweep

if TYPE_CHECKING:
    from minds371_sandbox._world import World

__all__ = ["produce_block"]

_ORDER_MAX_BIDS = 20  # the market module's OrderMaxBids


def produce_block(world: World) -> None:
    """Advance ``world`` by one block; transactions waiting in the mempool land first."""
    world.height += 1
    pending, world.mempool = world.mempool, []
    for _, deliver in pending:
        deliver()
    for dep in world.live_deployments():
        _bid(world, dep)
        _settle(world, dep)
        _time_out_manifests(world, dep)
    if world.deployment_settings and world.height % world.config.auto_top_up_every_blocks == 0:
        sweep(world)  # Console's auto top-up cron


def _bid(world: World, dep: Deployment) -> None:
    for group in dep.groups:
        if group.state != "open":
            continue
        for order in group.orders:
            if order.state == "open":
                _bids_for(world, order, group)


def _bids_for(world: World, order: Order, group: Group) -> None:
    age = world.height - order.created_at
    decided = {b.provider for b in order.bids} | set(order.declined)
    for address, provider in world.providers.items():
        if address in decided or age < provider.bid_delay_blocks:
            continue
        if address in group.excluded:
            order.declined[address] = "closed a lease on this group"
            continue
        decision = decide(
            provider,
            group.spec,
            used=world.usage(address),
            used_gpus=world.gpu_usage(address),
            online=world.online.get(address, False),
        )
        if decision.price is None:
            if decision.reason != "provider offline":  # it may come back and bid
                order.declined[address] = decision.reason
            continue
        if len(order.bids) < _ORDER_MAX_BIDS:
            order.bids.append(Bid(address, decision.price, world.height))
    for bid in order.bids:
        if bid.state == "open" and world.height - bid.created_at >= world.config.bid_timeout_blocks:
            bid.state = "closed"


def _settle(world: World, dep: Deployment) -> None:
    escrow = dep.escrow
    rate = sum((lease.price for lease in dep.active_leases()), Decimal(0))
    if rate and escrow.funds < rate:
        # Overdrawn: pay what is left; every lease and the deployment close.
        escrow.transferred += escrow.funds
        escrow.funds = Decimal(0)
        escrow.settled_at = world.height
        world.overdraw(dep)
        return
    escrow.funds -= rate
    escrow.transferred += rate
    escrow.settled_at = world.height


def _time_out_manifests(world: World, dep: Deployment) -> None:
    limit = world.config.manifest_timeout_blocks
    for lease in dep.active_leases():
        if lease.manifest is None and world.height - lease.created_at >= limit:
            world.provider_close_lease(
                dep.owner, dep.dseq, lease.gseq, lease.oseq, "manifest_timeout"
            )
