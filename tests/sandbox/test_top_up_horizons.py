"""The auto top-up sweep's remembered runways give the answers a sweep that looks every time gives.

Two worlds go through the same random history (:mod:`tests.sandbox.histories`); one sweeps with
:class:`DrainHorizons`, the other looking at every setting every time, and after every step
both worlds must be identical.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal

import pytest

from minds371_sandbox._drain import DrainHorizons
from minds371_sandbox._top_up import DeploymentSetting, sweep
from tests.sandbox.histories import HASH, OWNERS, history_world, step
from tests.sandbox.specs import group_spec


class _Counting(DrainHorizons):
    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0

    def due(
        self, settings: Mapping[tuple[str, int], object], height: int, window: Decimal
    ) -> list[tuple[str, int]]:
        keys = super().due(settings, height, window)
        self.skipped += len(settings) - len(keys)
        return keys


class _Forgetful(DrainHorizons):
    """Never knows anything: every sweep looks at every setting."""

    def due(
        self, settings: Mapping[tuple[str, int], object], height: int, window: Decimal
    ) -> list[tuple[str, int]]:
        return list(settings)


@pytest.mark.parametrize("seed", range(6))
def test_remembered_runways_fund_exactly_what_a_full_sweep_funds(seed: int) -> None:
    remembering, forgetful = _Counting(), _Forgetful()
    fast, plain = history_world(remembering), history_world(forgetful)
    fast_rng, plain_rng = random.Random(seed), random.Random(seed)
    for n in range(400):
        assert step(fast, fast_rng, n) == step(plain, plain_rng, n), n
        assert fast.dump() == plain.dump(), n
    deposits = sum(
        len(d.escrow.deposits) - 1 for d in plain.deployments.values()
    )  # beyond the opening one
    assert deposits > 0  # the sweeps funded something...
    assert remembering.skipped > 0  # ...and the horizons spared some runways


def test_a_new_lease_makes_the_remembered_runway_stale() -> None:
    world = history_world(DrainHorizons(), cron_every=100_000)  # only the sweeps called here
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
    world = history_world(DrainHorizons(), cron_every=100_000)  # only the sweeps called here
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
