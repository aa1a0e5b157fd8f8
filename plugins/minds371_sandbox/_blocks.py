"""One block of the sandbox chain: providers bid, bids expire, escrow pays, manifests time out.

Every ``auto_top_up_every_blocks`` blocks Console's auto top-up sweep runs (:mod:`._top_up`).

Runs over the active deployments of a :class:`~._world.World` (``World.advance`` calls
:func:`produce_block` once per block). Everything here happens "at" the new height.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from minds371_sandbox._fit import decide
from minds371_sandbox._records import Bid, Group, Lease, Order
from minds371_sandbox._top_up import sweep

if TYPE_CHECKING:
    from minds371_sandbox._world import World

__all__ = ["produce_block"]

_ORDER_MAX_BIDS = 20  # the market module's OrderMaxBids
_ZERO = Decimal(0)


def produce_block(world: World) -> None:
    """Advance ``world`` by one block; transactions waiting in the mempool land first.

    Each active deployment, in turn: its open orders get bids, its escrow pays one block of its
    active leases (all of them close with the deployment when it cannot), and leases still
    without a manifest past the timeout are closed. One pass per deployment, with its active
    leases listed once: paying changes them only when the escrow runs dry, and then none are
    left. This loop runs for every deployment every block, hence written out flat.
    """
    world.height += 1
    pending, world.mempool = world.mempool, []
    for _, deliver in pending:
        deliver()
    height = world.height
    limit = world.config.manifest_timeout_blocks
    for dep in world.live_deployments():
        for group in dep.groups:
            if group.state == "open":
                for order in group.orders:
                    if order.state == "open":
                        _bids_for(world, order, group)
        active: list[Lease] = []
        rate = _ZERO  # summed as sum() does: 0 + first + second ...
        for lease in dep.leases:
            if lease.state == "active":
                active.append(lease)
                rate = rate + lease.price
        escrow = dep.escrow
        if rate and escrow.funds < rate:
            # Overdrawn: pay what is left; every lease and the deployment close.
            escrow.transferred += escrow.funds
            escrow.funds = _ZERO
            escrow.settled_at = height
            world.overdraw(dep)
            continue
        escrow.funds -= rate
        escrow.transferred += rate
        escrow.settled_at = height
        for lease in active:
            if lease.manifest is None and height - lease.created_at >= limit:
                world.provider_close_lease(
                    dep.owner, dep.dseq, lease.gseq, lease.oseq, "manifest_timeout"
                )
    if world.deployment_settings and world.height % world.config.auto_top_up_every_blocks == 0:
        sweep(world)  # Console's auto top-up cron


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
