"""The auto top-up sweep's remembered runways give the answers a sweep that looks every time gives.

Two worlds go through the same random history (deployments with auto top-up, leases taken at
different prices, leases closed by the owner and by providers, manifests timing out, deposits,
deployments closed and overdrawn, providers going offline, blocks and sweeps); one sweeps with
:class:`DrainHorizons`, the other with a horizon set that never answers, and after every step
both worlds must be identical.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal

import pytest

from minds371_sandbox._providers import default_providers
from minds371_sandbox._records import Deployment, WorldConfig
from minds371_sandbox._top_up import DeploymentSetting, DrainHorizons, sweep
from minds371_sandbox._world import World, WorldError
from tests.sandbox.specs import group_spec

OWNERS = ("akash1alpha", "akash1beta")
HASH = hashlib.sha256(b"manifest").digest()


class _Counting(DrainHorizons):
    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0

    def quiet(self, dep: Deployment, height: int, window: Decimal) -> bool:
        answer = super().quiet(dep, height, window)
        self.skipped += answer
        return answer


class _Forgetful(DrainHorizons):
    """Never knows anything: every sweep computes every runway."""

    def quiet(self, dep: Deployment, height: int, window: Decimal) -> bool:
        return False


def _world(horizons: DrainHorizons, cron_every: int = 37) -> World:
    config = WorldConfig(
        block_time=None,
        min_deposit=10_000,
        auto_top_up_look_ahead_hours=1,  # 600 blocks
        auto_top_up_target_runway_hours=2,
        auto_top_up_cooldown_blocks=20,
        auto_top_up_every_blocks=cron_every,
        auto_top_up_headroom_uact=0,
        manifest_timeout_blocks=400,
    )
    world = World(default_providers(), config)
    world.drain_horizons = horizons
    return world


_KINDS = (
    *("create", "lease", "lease", "lease", "provider_close", "owner_close", "deposit", "close"),
    *("offline", "advance", "advance", "advance", "sweep", "sweep", "balance"),
)


def _step(world: World, rng: random.Random, n: int) -> object:
    """One random transaction or block run; the same ``rng`` state gives the same step."""
    kind = rng.choice(_KINDS)
    live = sorted(world._live)
    try:
        return _transact(world, rng, n, kind, live)
    except WorldError as exc:
        return exc.message


def _transact(
    world: World, rng: random.Random, n: int, kind: str, live: list[tuple[str, int]]
) -> object:
    if kind == "create":
        owner = rng.choice(OWNERS)
        deposit = rng.choice([10_000, 50_000, 300_000, 2_000_000])
        price = rng.choice(["1000", "50", "700"])
        dseq = 1000 + n
        world.create_deployment(owner, [group_spec(price=price)], HASH, deposit, dseq=dseq)
        world.deployment_settings[(owner, dseq)] = DeploymentSetting(
            f"id-{n}", "user", owner, dseq, rng.random() < 0.85, "t", "t"
        )
        return kind
    if not live:
        world.advance(1)
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
    elif kind == "deposit":
        world.deposit(owner, dseq, rng.choice([1_000, 100_000, 1_000_000]))
    elif kind == "close" and rng.random() < 0.3:
        world.close_deployment(owner, dseq)
    elif kind == "offline":
        address = rng.choice(sorted(world.providers))
        world.set_online(address, not world.online[address])
    elif kind == "advance":
        world.advance(rng.choice([1, 2, 5, 40, 150, 400]))
    elif kind == "sweep":
        return sweep(world, rng.choice([*OWNERS, None]))
    elif kind == "balance":
        world.account(rng.choice(OWNERS)).balance = Decimal(rng.choice([0, 50_000, 10**9]))
    return kind


@pytest.mark.parametrize("seed", range(6))
def test_remembered_runways_fund_exactly_what_a_full_sweep_funds(seed: int) -> None:
    remembering, forgetful = _Counting(), _Forgetful()
    fast, plain = _world(remembering), _world(forgetful)
    fast_rng, plain_rng = random.Random(seed), random.Random(seed)
    for n in range(400):
        assert _step(fast, fast_rng, n) == _step(plain, plain_rng, n), n
        assert fast.dump() == plain.dump(), n
    deposits = sum(
        len(d.escrow.deposits) - 1 for d in plain.deployments.values()
    )  # beyond the opening one
    assert deposits > 0  # the sweeps funded something...
    assert remembering.skipped > 0  # ...and the horizons spared some runways


def test_a_new_lease_makes_the_remembered_runway_stale() -> None:
    world = _world(DrainHorizons(), cron_every=100_000)  # only the sweeps called here
    owner = OWNERS[0]
    lantern = next(a for a, p in world.providers.items() if p.name == "lantern")  # 40 a block
    harbor = next(a for a, p in world.providers.items() if p.name == "harbor")  # 600 a block
    world.create_deployment(owner, [group_spec()], HASH, 400_000, dseq=1)
    world.deployment_settings[(owner, 1)] = DeploymentSetting(
        "id", "user", owner, 1, True, "t", "t"
    )
    world.advance(2)
    world.create_lease(owner, 1, 1, 1, lantern)
    assert sweep(world, owner) == []  # 10,000 blocks of runway: well beyond 600
    world.owner_close_lease(owner, 1, 1, 1, lantern)
    world.advance(2)
    world.create_lease(owner, 1, 1, 2, harbor)  # now about 660 blocks
    world.advance(100)
    assert [dseq for dseq, _ in sweep(world, owner)] == [1]


def test_a_restored_world_forgets_its_horizons() -> None:
    world = _world(DrainHorizons(), cron_every=100_000)  # only the sweeps called here
    owner = OWNERS[0]
    lantern = next(a for a, p in world.providers.items() if p.name == "lantern")
    world.create_deployment(owner, [group_spec()], HASH, 400_000, dseq=1)
    world.deployment_settings[(owner, 1)] = DeploymentSetting(
        "id", "user", owner, 1, True, "t", "t"
    )
    world.advance(2)
    world.create_lease(owner, 1, 1, 1, lantern)
    assert sweep(world, owner) == []
    raw = world.dump()
    raw["deployments"][0]["escrow"]["funds"] = "20000"  # 500 blocks: inside the window
    world.restore(raw)
    assert [dseq for dseq, _ in sweep(world, owner)] == [1]
