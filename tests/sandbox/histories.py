"""Random histories of a sandbox world, for tests that compare two ways of computing one world.

Two worlds given the same seed go through the same transactions (deployments with auto top-up
settings, leases taken at different prices, leases closed by the owner and by providers,
manifests timing out, deposits, deployments closed and overdrawn, providers going offline,
blocks and sweeps) as long as they answer alike.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from decimal import Decimal

from minds371_sandbox._drain import DrainHorizons
from minds371_sandbox._providers import default_providers
from minds371_sandbox._records import WorldConfig
from minds371_sandbox._top_up import DeploymentSetting, sweep
from minds371_sandbox._world import World, WorldError
from tests.sandbox.specs import group_spec, manifest_group

OWNERS = ("akash1alpha", "akash1beta")
HASH = hashlib.sha256(b"manifest").digest()

#: How a world produces ``blocks`` blocks.
Advance = Callable[[World, int], object]


def history_world(
    horizons: DrainHorizons | None = None, cron_every: int = 37, **config: object
) -> World:
    """A world whose escrows run near Console's look-ahead window (600 blocks here)."""
    settings = WorldConfig(
        block_time=None,
        min_deposit=10_000,
        auto_top_up_look_ahead_hours=1,  # 600 blocks
        auto_top_up_target_runway_hours=2,
        auto_top_up_cooldown_blocks=20,
        auto_top_up_every_blocks=cron_every,
        auto_top_up_headroom_uact=0,
        manifest_timeout_blocks=400,
    ).model_copy(update=config)
    world = World(default_providers(), settings)
    if horizons is not None:
        world.drain_horizons = horizons
    return world


_KINDS = (
    *("create", "lease", "lease", "lease", "provider_close", "owner_close", "deposit", "close"),
    *("offline", "advance", "advance", "advance", "sweep", "sweep", "balance", "manifest"),
)


def step(world: World, rng: random.Random, n: int, advance: Advance = World.advance) -> object:
    """One random transaction or block run; the same ``rng`` state gives the same step."""
    kind = rng.choice(_KINDS)
    live = sorted(world._live)
    try:
        return _transact(world, rng, n, kind, live, advance)
    except WorldError as exc:
        return exc.message


def _transact(  # noqa: C901 - one branch per kind of step
    world: World,
    rng: random.Random,
    n: int,
    kind: str,
    live: list[tuple[str, int]],
    advance: Advance,
) -> object:
    if kind == "create":
        owner = rng.choice(OWNERS)
        deposit = rng.choice([10_000, 12_000, 50_000, 300_000])
        price = rng.choice(["1000", "50", "700"])
        dseq = 1000 + n
        world.create_deployment(
            owner, [group_spec(price=price, random_port=True)], HASH, deposit, dseq=dseq
        )
        world.deployment_settings[(owner, dseq)] = DeploymentSetting(
            f"id-{n}", "user", owner, dseq, rng.random() < 0.85, "t", "t"
        )
        return kind
    if not live:
        advance(world, 1)
        return "advance"
    owner, dseq = rng.choice(live)
    dep = world.deployment(owner, dseq)
    if kind == "lease":
        for group in dep.groups:
            for order in group.orders:
                bids = sorted(b.provider for b in order.bids if b.state == "open")
                if order.state == "open" and bids:
                    world.create_lease(owner, dseq, group.gseq, order.oseq, rng.choice(bids))
    elif kind in ("provider_close", "owner_close") and dep.active_leases():
        lease = rng.choice(dep.active_leases())
        if kind == "provider_close":
            world.provider_close_lease(owner, dseq, lease.gseq, lease.oseq)
        else:
            world.owner_close_lease(owner, dseq, lease.gseq, lease.oseq, lease.provider)
    elif kind == "manifest" and dep.active_leases():
        lease = rng.choice(dep.active_leases())
        world.receive_manifest(lease.provider, owner, dseq, [manifest_group()], HASH)
    elif kind == "deposit":
        world.deposit(owner, dseq, rng.choice([1_000, 100_000, 1_000_000]))
    elif kind == "close" and rng.random() < 0.3:
        world.close_deployment(owner, dseq)
    elif kind == "offline":
        address = rng.choice(sorted(world.providers))
        world.set_online(address, not world.online[address])
    elif kind == "advance":
        advance(world, rng.choice([1, 2, 5, 40, 150, 400]))
    elif kind == "sweep":
        return sweep(world, rng.choice([*OWNERS, None]))
    elif kind == "balance":
        world.account(rng.choice(OWNERS)).balance = Decimal(rng.choice([0, 50_000, 10**9]))
    return kind
