"""The owner closing one lease (``MsgCloseLease``): in the world, and through the tx route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minds371_sandbox import SandboxServer, identity_for_key_name
from minds371_sandbox._cli_standin import standin_main
from minds371_sandbox._world import WorldError
from tests.sandbox.specs import group_spec, sdl
from tests.sandbox.test_world import HASH, OWNER, bidders, by_name, make_world


def test_owner_close_reopens_the_order_and_the_provider_may_bid_again() -> None:
    world = make_world()
    falcon = by_name(world)["falcon"]
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, falcon)
    held = world.usage(falcon)
    assert any(held.values())

    lease = world.owner_close_lease(OWNER, 1, 1, 1, falcon)

    assert (lease.state, lease.reason) == ("closed", "lease_closed_owner")
    assert lease.closed_on == world.height
    dep = world.deployment(OWNER, 1)
    assert dep.state == "active"
    group = dep.groups[0]
    assert [(o.oseq, o.state) for o in group.orders] == [(1, "closed"), (2, "open")]
    assert next(b for b in group.orders[0].bids if b.provider == falcon).state == "closed"
    assert group.excluded == []
    assert not any(world.usage(falcon).values())  # its resources are free again
    world.advance(2)
    assert "falcon" in bidders(world, 1)  # unlike a provider's close: the owner chooses
    assert len(bidders(world, 1)) == 5


def test_owner_close_stops_the_lease_being_paid() -> None:
    world = make_world()
    falcon = by_name(world)["falcon"]
    dep = world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance()
    world.create_lease(OWNER, 1, 1, 1, falcon)
    world.advance()
    world.owner_close_lease(OWNER, 1, 1, 1, falcon)
    funds = dep.escrow.funds
    world.advance(3)
    assert dep.escrow.funds == funds


def test_owner_close_refusals_use_the_market_module_messages() -> None:
    world = make_world()
    names = by_name(world)
    falcon, summit = names["falcon"], names["summit"]
    world.create_deployment(OWNER, [group_spec()], HASH, 500_000, dseq=1)
    world.advance()
    with pytest.raises(WorldError, match=r"^invalid order: order not found$"):
        world.owner_close_lease(OWNER, 99, 1, 1, falcon)
    with pytest.raises(WorldError, match=r"^invalid order: order not found$"):
        world.owner_close_lease(OWNER, 1, 1, 7, falcon)
    with pytest.raises(WorldError, match=r"^order closed$"):
        world.owner_close_lease(OWNER, 1, 1, 1, falcon)  # the order is open: nothing leased
    world.advance()
    assert "summit" in bidders(world, 1)
    world.create_lease(OWNER, 1, 1, 1, falcon)
    with pytest.raises(WorldError, match=r"^bid not active$"):
        world.owner_close_lease(OWNER, 1, 1, 1, summit)  # summit's bid lost
    with pytest.raises(WorldError, match=r"^invalid bid: bid not found$"):
        world.owner_close_lease(OWNER, 1, 1, 1, "akash1nobody")
    with pytest.raises(WorldError, match=r"^invalid order: order not found$"):
        world.owner_close_lease("akash1someoneelse", 1, 1, 1, falcon)
    world.owner_close_lease(OWNER, 1, 1, 1, falcon)
    with pytest.raises(WorldError, match=r"^order closed$") as again:
        world.owner_close_lease(OWNER, 1, 1, 1, falcon)
    assert again.value.kind == "closed"
    world.close_deployment(OWNER, 1)
    with pytest.raises(WorldError, match=r"^order closed$"):
        world.owner_close_lease(OWNER, 1, 1, 2, falcon)


def _akash(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """The ``akash`` stand-in's entry point in this process, its JSON output parsed."""
    code = standin_main("akash", [*args, "-o", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


async def test_lease_close_through_the_standin_and_tx_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(sdl(), encoding="utf-8")
    bob = identity_for_key_name("bob").address
    monkeypatch.setenv("AKASH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AKASH_KEYRING_BACKEND", "test")
    # A clock driven by hand: each step sees exactly the blocks it needs.
    async with SandboxServer(block_time=60) as server:
        node = ("--node", server.base_url)
        for step in ("generate", "publish"):
            code, _, err = _akash(capsys, "tx", "cert", step, "client", "--from", "bob", *node)
            assert code == 0, err
        code, _, err = _akash(
            capsys, "tx", "deployment", "create", str(deploy), "--dseq", "5", "--from", "bob", *node
        )
        assert code == 0, err
        await server.advance(2)
        _, bids, _ = _akash(
            capsys, "query", "market", "bid", "list", "--owner", bob, "--dseq", "5", *node
        )
        provider = bids["bids"][0]["bid"]["id"]["provider"]
        ids = ("--dseq", "5", "--gseq", "1", "--oseq", "1", "--provider", provider)
        code, _, err = _akash(
            capsys, "tx", "market", "lease", "create", *ids, "--from", "bob", *node
        )
        assert code == 0, err

        # someone else's key: signing for bob's lease is refused; its own "lease" does not exist
        code, tx, err = _akash(
            capsys, "tx", "market", "lease", "close", *ids, "--owner", bob, "--from", "mallory",
            *node,
        )  # fmt: skip
        assert code == 1 and tx["code"] != 0
        assert "pubkey does not match signer address" in err
        code, _, err = _akash(
            capsys, "tx", "market", "lease", "close", *ids, "--from", "mallory", *node
        )
        assert code == 1 and "invalid order: order not found" in err

        code, tx, err = _akash(
            capsys, "tx", "market", "lease", "close", *ids, "--from", "bob", *node
        )
        assert code == 0, err
        assert tx["code"] == 0
        (event,) = tx["events"]
        assert event["type"] == "akash.market.v1.EventLeaseClosed"
        attributes = {a["key"]: json.loads(a["value"]) for a in event["attributes"]}
        assert attributes["reason"] == "lease_closed_owner"
        assert attributes["id"]["provider"] == provider and attributes["id"]["dseq"] == "5"

        _, leases, _ = _akash(
            capsys, "query", "market", "lease", "list", "--owner", bob, "--dseq", "5", *node
        )
        (item,) = leases["leases"]
        assert (item["lease"]["state"], item["lease"]["reason"]) == ("closed", "lease_closed_owner")
        assert item["escrow_payment"]["state"]["state"] == "closed"
        _, info, _ = _akash(
            capsys, "query", "deployment", "get", "--owner", bob, "--dseq", "5", *node
        )
        assert info["deployment"]["state"] == "active"

        code, _, err = _akash(
            capsys, "tx", "market", "lease", "close", *ids, "--from", "bob", *node
        )
        assert code == 1 and "order closed" in err  # already closed

        await server.advance(2)
        _, reopened, _ = _akash(
            capsys, "query", "market", "bid", "list", "--owner", bob, "--dseq", "5",
            "--oseq", "2", "--state", "open", *node,
        )  # fmt: skip
        bidders_again = {b["bid"]["id"]["provider"] for b in reopened["bids"]}
        assert provider in bidders_again  # the order re-opened with oseq 2, nobody excluded
        assert {b["bid"]["id"]["oseq"] for b in reopened["bids"]} == {2}
