"""A block visits each deployment once and gives the world the three separate passes gave.

The reference below is the block as first written: every deployment bid on, then paid for, then
its manifest-less leases timed out, each step listing the active leases anew. Two worlds go
through the same random history (:mod:`tests.sandbox.histories`), one producing its blocks with
:func:`produce_block`, the other with the reference; after every step they must be identical.
"""

from __future__ import annotations

import random
from decimal import Decimal

from minds371_sandbox._blocks import _bids_for, produce_block
from minds371_sandbox._records import Deployment
from minds371_sandbox._top_up import sweep
from minds371_sandbox._world import World
from tests.sandbox.histories import history_world, step


def _reference_bid(world: World, dep: Deployment) -> None:
    for group in dep.groups:
        if group.state != "open":
            continue
        for order in group.orders:
            if order.state == "open":
                _bids_for(world, order, group)


def _reference_settle(world: World, dep: Deployment) -> None:
    escrow = dep.escrow
    rate = sum((lease.price for lease in dep.active_leases()), Decimal(0))
    if rate and escrow.funds < rate:
        escrow.transferred += escrow.funds
        escrow.funds = Decimal(0)
        escrow.settled_at = world.height
        world.overdraw(dep)
        return
    escrow.funds -= rate
    escrow.transferred += rate
    escrow.settled_at = world.height


def _reference_time_out(world: World, dep: Deployment) -> None:
    limit = world.config.manifest_timeout_blocks
    for lease in dep.active_leases():
        if lease.manifest is None and world.height - lease.created_at >= limit:
            world.provider_close_lease(
                dep.owner, dep.dseq, lease.gseq, lease.oseq, "manifest_timeout"
            )


def _reference_advance(world: World, blocks: int) -> int:
    for _ in range(blocks):
        world.height += 1
        pending, world.mempool = world.mempool, []
        for _, deliver in pending:
            deliver()
        for dep in world.live_deployments():
            _reference_bid(world, dep)
            _reference_settle(world, dep)
            _reference_time_out(world, dep)
        if world.deployment_settings and world.height % world.config.auto_top_up_every_blocks == 0:
            sweep(world)
    return world.height


def _advance(world: World, blocks: int) -> int:
    for _ in range(blocks):
        produce_block(world)
    return world.height


def test_one_pass_per_deployment_makes_the_same_world() -> None:
    reasons: set[str] = set()
    for seed in range(5):
        fast, plain = (history_world(initial_balance=2_000_000) for _ in range(2))
        fast_rng, plain_rng = random.Random(seed), random.Random(seed)
        for n in range(300):
            fast_step = step(fast, fast_rng, n, _advance)
            assert fast_step == step(plain, plain_rng, n, _reference_advance), (seed, n)
            assert fast.dump() == plain.dump(), (seed, n)
        reasons |= {lease.reason for dep in plain.deployments.values() for lease in dep.leases}
    # the histories went through every way a block ends a lease
    assert {"lease_closed_reason_manifest_timeout", "lease_closed_reason_insufficient_funds"} <= (
        reasons
    )
