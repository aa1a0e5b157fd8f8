from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from minds371_sandbox._providers import ProviderSpec, default_providers
from minds371_sandbox._records import WorldConfig
from minds371_sandbox._workloads import (
    lease_events,
    lease_status,
    pod_logs,
    ready_height,
)
from minds371_sandbox._world import World, WorldError
from tests.sandbox.specs import AUDITED, group_spec, manifest_group

OWNER = "akash1owner"
HASH = hashlib.sha256(b"manifest").digest()


def make_world(**config: object) -> World:
    return World(default_providers(), WorldConfig(block_time=None, **config))


def by_name(world: World) -> dict[str, str]:
    return {p.name: p.address for p in world.providers.values()}


def bidders(world: World, dseq: int, gseq: int = 1) -> dict[str, Decimal]:
    names = {a: p.name for a, p in world.providers.items()}
    order = world.deployment(OWNER, dseq).groups[gseq - 1].orders[-1]
    return {names[b.provider]: b.price for b in order.bids if b.state == "open"}


def test_providers_bid_within_their_delay_and_at_their_own_price() -> None:
    world = make_world()
    dep = world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=7)
    assert dep.groups[0].orders[0].state == "open"
    assert bidders(world, 7) == {}
    world.advance()
    first = bidders(world, 7)
    assert set(first) == {"falcon", "harbor", "pebble"}  # bid_delay_blocks = 1
    world.advance()
    assert set(bidders(world, 7)) == {"falcon", "harbor", "pebble", "summit", "lantern"}
    # falcon scales: 0.5 core * 10 + 0.5 GiB * 3 + 1 GiB * 0.4 = 6.9 uact per block
    assert first["falcon"] == Decimal("6.9")
    # harbor bids 60% of the order's maximum (1000), never below its cost
    assert first["harbor"] == Decimal(600)
    assert bidders(world, 7)["lantern"] == Decimal(40)


def test_price_too_low_gets_no_bids_and_every_refusal_is_recorded() -> None:
    world = make_world()
    world.create_deployment(OWNER, [group_spec(price="1")], HASH, 500_000, dseq=1)
    world.advance(3)
    order = world.deployment(OWNER, 1).groups[0].orders[0]
    assert order.bids == []
    assert set(order.declined.values()) == {"Price too high, not bidding"}
    assert len(order.declined) == 5


def test_attributes_signed_by_and_gpu_model_filter_providers() -> None:
    world = make_world()
    world.create_deployment(
        OWNER, [group_spec(attributes={"region": "eu-central"})], HASH, 500_000, dseq=1
    )
    world.create_deployment(OWNER, [group_spec(any_of=AUDITED)], HASH, 500_000, dseq=2)
    world.create_deployment(
        OWNER, [group_spec(gpu_model="h100", price="5000")], HASH, 500_000, dseq=3
    )
    world.create_deployment(
        OWNER, [group_spec(gpu_model="b200", price="50000")], HASH, 500_000, dseq=4
    )
    world.advance(2)
    assert set(bidders(world, 1)) == {"harbor"}
    assert set(bidders(world, 2)) == {"falcon", "harbor", "summit"}
    assert set(bidders(world, 3)) == {"summit"}
    assert bidders(world, 4) == {}
    declined = world.deployment(OWNER, 2).groups[0].orders[0].declined
    assert declined[by_name(world)["pebble"]] == "attribute signature requirements not met"
    declined = world.deployment(OWNER, 4).groups[0].orders[0].declined
    assert "no GPU of the requested model" in declined[by_name(world)["summit"]]


def test_capacity_limits_bids() -> None:
    small = ProviderSpec(name="tiny", region="us-west", capacity={"cpu_millicores": 1000})
    world = World([small], WorldConfig(block_time=None))
    world.create_deployment(OWNER, [group_spec(cpu=800)], HASH, 500_000, dseq=1)
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, small.address)
    world.create_deployment(OWNER, [group_spec(cpu=800)], HASH, 500_000, dseq=2)
    world.advance()
    assert world.deployment(OWNER, 2).groups[0].orders[0].declined == {
        small.address: "insufficient capacity"
    }
    world.close_deployment(OWNER, 1)
    world.create_deployment(OWNER, [group_spec(cpu=800)], HASH, 500_000, dseq=3)
    world.advance()
    assert [b.provider for b in world.deployment(OWNER, 3).groups[0].orders[0].bids] == [
        small.address
    ]


def test_chain_checks_on_create() -> None:
    world = make_world(initial_balance=1_000_000)
    with pytest.raises(WorldError, match="Deposit too low"):
        world.create_deployment(OWNER, [group_spec()], HASH, 1, dseq=1)
    with pytest.raises(WorldError, match="denom"):
        world.create_deployment(OWNER, [group_spec(denom="uakt")], HASH, 500_000, dseq=1)
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    with pytest.raises(WorldError, match="already exists"):
        world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=2)
    with pytest.raises(WorldError) as info:
        world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=3)
    assert info.value.kind == "funds"


def test_lease_manifest_and_readiness_timeline() -> None:
    world = make_world(pull_blocks=3)
    falcon = by_name(world)["falcon"]
    world.create_deployment(OWNER, [group_spec(random_port=True)], HASH, 500_000, dseq=5)
    with pytest.raises(WorldError, match="bid not found"):
        world.create_lease(OWNER, 5, 1, 1, falcon)
    world.advance()
    lease = world.create_lease(OWNER, 5, 1, 1, falcon)
    states = {b.provider: b.state for b in world.deployment(OWNER, 5).groups[0].orders[0].bids}
    assert states[falcon] == "active" and set(states.values()) == {"active", "lost"}
    with pytest.raises(WorldError, match="no lease for deployment") as info:
        world.receive_manifest(falcon, OWNER, 5, [manifest_group()], HASH)
    assert info.value.kind == "not_found"
    world.advance()
    with pytest.raises(WorldError, match="manifest version validation failed"):
        world.receive_manifest(falcon, OWNER, 5, [manifest_group()], b"x" * 32)
    with pytest.raises(WorldError, match="cross-validation"):
        world.receive_manifest(falcon, OWNER, 5, [manifest_group(count=2)], HASH)
    world.receive_manifest(falcon, OWNER, 5, [manifest_group()], HASH)
    dep = world.deployment(OWNER, 5)
    provider = world.providers[falcon]
    status = lease_status(dep, lease, provider, world.height, world.config)
    assert status is not None
    web = status["services"]["web"]
    assert (web["available"], web["total"]) == (0, 1)
    assert web["uris"] and web["uris"][0].endswith(".ingress.falcon.provider.sandbox.test")
    assert status["forwarded_ports"]["web"][0]["port"] == 22
    assert ready_height(lease, world.config) == world.height + 3
    world.advance(3)
    status = lease_status(dep, lease, provider, world.height, world.config)
    assert status is not None and status["services"]["web"]["available"] == 1
    reasons = [e["reason"] for e in lease_events(dep, lease, world.height, world.config)]
    assert reasons == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    logs = pod_logs(dep, lease, lease.manifest["services"][0], 0, world.height, world.config)  # type: ignore[index]
    assert any("listening on 0.0.0.0:80" in line for _, line in logs)


@pytest.mark.parametrize(
    ("image", "env", "reasons"),
    [
        ("registry.invalid.example/app:1", None, {"ErrImagePull", "ImagePullBackOff"}),
        ("nginx:nonexistent", None, {"ErrImagePull", "ImagePullBackOff"}),
        ("ghcr.io/acme/app:crashloop", None, {"Back-off restarting failed container"}),
        ("nginx:1.27", ["SANDBOX_CRASH=1"], {"Back-off restarting failed container"}),
    ],
)
def test_failing_images_never_become_ready(
    image: str, env: list[str] | None, reasons: set[str]
) -> None:
    world = make_world(pull_blocks=1, backoff_blocks=2)
    falcon = by_name(world)["falcon"]
    world.create_deployment(OWNER, [group_spec(random_port=True)], HASH, 500_000, dseq=1)
    world.advance()
    lease = world.create_lease(OWNER, 1, 1, 1, falcon)
    world.advance()
    world.receive_manifest(falcon, OWNER, 1, [manifest_group(image=image, env=env)], HASH)
    world.advance(10)
    dep = world.deployment(OWNER, 1)
    status = lease_status(dep, lease, world.providers[falcon], world.height, world.config)
    assert status is not None and status["services"]["web"]["available"] == 0
    assert ready_height(lease, world.config) is None
    events = lease_events(dep, lease, world.height, world.config)
    seen = {e["note"] for e in events} | {e["note"].removeprefix("Error: ") for e in events}
    assert reasons <= seen
    assert all(e["type"] in ("Normal", "Warning") for e in events)


def test_escrow_drains_per_block_and_closes_on_insufficient_funds() -> None:
    world = make_world(manifest_timeout_blocks=10**9)
    lantern = by_name(world)["lantern"]  # fixed price 40 uact per block
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    balance_after_deposit = world.account(OWNER).balance
    world.advance(2)
    world.create_lease(OWNER, 1, 1, 1, lantern)
    dep = world.deployment(OWNER, 1)
    world.advance(10)
    assert dep.escrow.funds == Decimal(500_000 - 400)
    assert dep.escrow.transferred == Decimal(400)
    world.deposit(OWNER, 1, 100_000)
    assert dep.escrow.funds == Decimal(600_000 - 400)
    world.advance(600_000 // 40)
    assert dep.state == "closed"
    assert dep.escrow.state == "overdrawn"
    assert dep.leases[0].state == "insufficient_funds"
    assert dep.leases[0].reason == "lease_closed_reason_insufficient_funds"
    assert dep.escrow.transferred == Decimal(600_000)
    assert world.account(OWNER).balance == balance_after_deposit - 100_000
    assert world.usage(lantern)["cpu"] == 0


def test_close_refunds_and_is_idempotent() -> None:
    world = make_world()
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    before = world.account(OWNER).balance
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, by_name(world)["falcon"])
    world.advance(10)
    dep = world.close_deployment(OWNER, 1)
    assert dep.leases[0].reason == "lease_closed_owner"
    assert world.account(OWNER).balance == before + Decimal(500_000) - Decimal("69.0")
    world.close_deployment(OWNER, 1)
    assert world.account(OWNER).balance == before + Decimal(500_000) - Decimal("69.0")
    with pytest.raises(WorldError, match="Deployment closed"):
        world.deposit(OWNER, 1, 1000)


def test_bids_expire() -> None:
    world = make_world(bid_timeout_blocks=5)
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance(2)
    assert len(bidders(world, 1)) == 5
    world.advance(5)
    assert bidders(world, 1) == {}
    with pytest.raises(WorldError, match="bid not open"):
        world.create_lease(OWNER, 1, 1, 1, by_name(world)["falcon"])


def test_provider_closing_a_lease_reopens_the_order_without_it() -> None:
    world = make_world()
    falcon = by_name(world)["falcon"]
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, falcon)
    lease = world.provider_close_lease(OWNER, 1, 1, 1)
    assert (lease.state, lease.reason) == ("closed", "lease_closed_reason_unstable")
    group = world.deployment(OWNER, 1).groups[0]
    assert [o.oseq for o in group.orders] == [1, 2]
    world.advance(2)
    assert "falcon" not in bidders(world, 1)
    assert len(bidders(world, 1)) == 4


def test_manifest_timeout_closes_the_lease() -> None:
    world = make_world(manifest_timeout_blocks=3)
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance()
    lease = world.create_lease(OWNER, 1, 1, 1, by_name(world)["falcon"])
    world.advance(3)
    assert lease.reason == "lease_closed_reason_manifest_timeout"


def test_offline_providers_do_not_bid_until_back() -> None:
    world = make_world()
    falcon = by_name(world)["falcon"]
    world.set_online(falcon, False)
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance(2)
    assert "falcon" not in bidders(world, 1)
    world.set_online(falcon, True)
    world.advance()
    assert "falcon" in bidders(world, 1)


def test_dump_and_restore_round_trip() -> None:
    world = make_world()
    falcon = by_name(world)["falcon"]
    world.create_deployment(OWNER, [group_spec(random_port=True)], HASH, 500_000, dseq=1)
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, falcon)
    world.advance()
    world.receive_manifest(falcon, OWNER, 1, [manifest_group()], HASH)
    world.set_online(by_name(world)["pebble"], False)
    dumped = json.loads(json.dumps(world.dump()))
    again = make_world()
    again.restore(dumped)
    assert again.dump() == world.dump()
    assert again.usage(falcon) == world.usage(falcon)
    again.advance(5)
    # 7.9 per block: the unit's random-port endpoint costs one more unit than 6.9.
    assert again.deployment(OWNER, 1).escrow.transferred == Decimal("7.9") * 6
