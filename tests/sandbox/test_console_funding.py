"""The sandbox's Console as a strict twin for funding: deposits, trial wallets, lease skipping."""

from __future__ import annotations

from typing import Any

from minds371_sandbox import SandboxNetwork, WorldConfig
from minds371_sandbox._identity import TRIAL_KEY_PREFIX
from tests.sandbox.helpers import check_shape, create, lease_cheapest
from tests.sandbox.specs import sdl

BLOCK = 0.02


async def test_create_without_a_deposit_is_refused_as_console_does() -> None:
    # deployment-writer.service.ts resolveDepositInDollars: 400 with the error handler's body
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl()}})
        assert r.status_code == 400
        assert r.json() == {
            "error": "BadRequestError",
            "message": "deposit is required",
            "code": "bad_request",
            "type": "client_error",
        }
        assert list(net.world.deployments_of(net.owner("k"))) == []


async def test_deposit_is_dollars_typed_and_at_least_the_chain_minimum() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": "5"}})
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "validation_error"
        assert body["data"][0]["path"] == ["data", "deposit"]
        assert body["data"][0]["message"] == "Expected number, received string"

        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.1}})
        assert (r.status_code, r.json()["message"]) == (
            400,
            "Failed to create deployment: Deposit too low",
        )

        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 1.25}})
        assert r.status_code == 201
        dep = net.world.deployment(net.owner("k"), int(r.json()["data"]["dseq"]))
        assert dep.escrow.funds == 1_250_000
        assert dep.escrow.deposits[0]["source"] == "grant"


async def test_managed_deposit_flag_ignores_the_callers_amount() -> None:
    config = WorldConfig(block_time=BLOCK, console_managed_deposit=True)
    async with SandboxNetwork(config=config) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl()}})
        assert r.status_code == 201
        dep = net.world.deployment(net.owner("k"), int(r.json()["data"]["dseq"]))
        assert dep.escrow.funds == config.console_deposit


async def test_a_trial_wallet_create_closes_its_lease_less_deployments() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        trial = net.client(TRIAL_KEY_PREFIX + "t")
        waiting, _ = await create(trial)
        leased, manifest = await create(trial)
        assert (await lease_cheapest(trial, leased, manifest)).status_code == 200
        await net.wait_blocks(1)  # the cleanup closes only deployments of earlier blocks
        third, _ = await create(trial)
        owner = net.owner(TRIAL_KEY_PREFIX + "t")
        states = {
            dseq: net.world.deployment(owner, int(dseq)).state for dseq in (waiting, leased, third)
        }
        assert states == {waiting: "closed", leased: "active", third: "active"}

        # a paying wallet keeps every deployment
        paying = net.client("paying")
        first, _ = await create(paying)
        await net.wait_blocks(1)
        await create(paying)
        assert net.world.deployment(net.owner("paying"), int(first)).state == "active"


async def test_wallet_user_and_blocks_have_consoles_shapes(openapi: Any) -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        trial = net.client(TRIAL_KEY_PREFIX + "t")
        me = await trial.get("/v1/user/me")
        check_shape(openapi, "/v1/user/me", "get", me)
        user = me.json()["data"]["id"]
        r = await trial.get("/v1/wallets", params={"userId": user})
        check_shape(openapi, "/v1/wallets", "get", r)
        (wallet,) = r.json()["data"]
        assert wallet["isTrialing"] is True
        assert wallet["address"] == net.owner(TRIAL_KEY_PREFIX + "t")
        assert (await trial.get("/v1/wallets")).json()["code"] == "validation_error"
        paying = net.client("paying")
        other = (await paying.get("/v1/user/me")).json()["data"]["id"]
        assert (await paying.get("/v1/wallets", params={"userId": other})).json()["data"][0][
            "isTrialing"
        ] is False
        assert (await paying.get("/v1/wallets", params={"userId": user})).json() == {"data": []}
        before = net.height
        blocks = await net.client(api_key=None).get("/v1/blocks", params={"limit": 1})
        check_shape(openapi, "/v1/blocks", "get", blocks)
        assert before <= blocks.json()[0]["height"] <= net.height


async def test_deployment_settings_switch_auto_top_up(openapi: Any) -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        r = await client.post("/v2/deployment-settings", json={"data": {"dseq": dseq}})
        assert r.status_code == 201
        check_shape(openapi, "/v2/deployment-settings", "post", r)
        data = r.json()["data"]
        assert (data["autoTopUpEnabled"], data["estimatedTopUpAmount"]) == (False, 0)
        assert data["topUpFrequencyMs"] == 24 * 3_600_000
        again = await client.post("/v2/deployment-settings", json={"data": {"dseq": dseq}})
        assert again.status_code == 409

        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        r = await client.patch(
            f"/v2/deployment-settings/{dseq}", json={"data": {"autoTopUpEnabled": True}}
        )
        check_shape(openapi, "/v2/deployment-settings/{dseq}", "patch", r)
        dep = net.world.deployment(net.owner("k"), int(dseq))
        rate = dep.active_leases()[0].price
        # calculateSteadyStateTopUpAmount: rate x 600 blocks an hour x (48 h - 24 h)
        assert r.json()["data"]["estimatedTopUpAmount"] == int(rate * 600 * 24)

        # GET creates a missing setting switched ON for a managed wallet
        other, _ = await create(client)
        r = await client.get(f"/v2/deployment-settings/{other}")
        check_shape(openapi, "/v2/deployment-settings/{dseq}", "get", r)
        assert r.json()["data"]["autoTopUpEnabled"] is True


async def test_auto_top_up_funds_a_draining_deployment_to_the_target_runway() -> None:
    config = WorldConfig(block_time=BLOCK, auto_top_up_every_blocks=100, min_deposit=10_000)
    async with SandboxNetwork(config=config) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.01}})
        dseq, manifest = r.json()["data"]["dseq"], r.json()["data"]["manifest"]
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        owner = net.owner("k")
        dep = net.world.deployment(owner, int(dseq))
        rate = dep.active_leases()[0].price
        runway = int(dep.escrow.funds / rate)
        assert runway < 24 * 600  # inside Console's look-ahead window
        net.set_balance(owner, 5_100_000)  # $0.10 above Console's $5 headroom
        r = await client.patch(
            f"/v2/deployment-settings/{dseq}", json={"data": {"autoTopUpEnabled": True}}
        )
        assert r.status_code == 200
        # switched on: funded at once, but only what the headroom leaves spendable
        assert [d["amount"] for d in dep.escrow.deposits] == ["10000", "100000"]
        assert dep.escrow.deposits[-1]["source"] == "grant"
        assert net.world.account(owner).balance == 5_000_000

        net.set_balance(owner, 1_000_000_000)
        await net.advance(int(dep.escrow.funds / rate) - 24 * 600 + 100)  # back in the window
        assert len(dep.escrow.deposits) == 3
        left = int(dep.escrow.funds / rate)
        assert 48 * 600 - 300 <= left <= 48 * 600  # topped up to the 48 h target runway
        assert dep.state == "active"
        assert net.height - dep.created_at > runway  # alive past the runway it was created with
