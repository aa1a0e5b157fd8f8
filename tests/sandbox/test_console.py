from __future__ import annotations

from typing import Any

import anyio

from minds371_sandbox import AUDITOR, SandboxNetwork, WorldConfig
from tests.sandbox.helpers import check_shape, create, lease_cheapest, wait_for_bids, wait_ready
from tests.sandbox.specs import sdl

BLOCK = 0.02


async def test_requests_without_an_api_key_get_console_401() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        anonymous = net.client(api_key=None)
        r = await anonymous.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.5}})
        assert r.status_code == 401
        assert r.json() == {
            "error": "UnauthorizedError",
            "message": "Unauthorized",
            "code": "unauthorized",
            "type": "client_error",
        }
        both = await net.client("k").get("/v1/deployments/1", headers={"authorization": "Bearer x"})
        assert both.status_code == 400
        assert "mutually exclusive" in both.json()["message"]
        assert net.world.deployments == {}


async def test_bad_requests_are_named() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {}})
        assert r.status_code == 400
        body = r.json()
        assert (body["code"], body["type"]) == ("validation_error", "validation_error")
        assert body["data"][0]["path"] == ["data", "sdl"]
        r = await client.get("/v1/deployments/abc")
        assert (
            r.status_code == 400
            and r.json()["data"][0]["message"] == "Expected bigint, received string"
        )
        r = await client.post(
            "/v1/deployments", json={"data": {"sdl": "version: '2.0'\nservices: {}\n"}}
        )
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid SDL: ")
        r = await client.get("/v1/deployments/123")
        assert r.status_code == 404
        assert r.json() == {
            "error": "NotFoundError",
            "message": "Deployment not found",
            "code": "not_found",
            "type": "client_error",
        }
        r = await client.post("/v1/leases", content=b"{not json")
        assert r.status_code == 400


async def test_deploy_through_console_reaches_ready(openapi: Any) -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        r = await client.post(
            "/v1/deployments",
            json={"data": {"sdl": sdl(services=("web", "api", "db")), "deposit": 99}},
        )
        assert r.status_code == 201
        check_shape(openapi, "/v1/deployments", "post", r)
        dseq, manifest = r.json()["data"]["dseq"], r.json()["data"]["manifest"]
        dep = net.world.deployment(net.owner("k"), int(dseq))
        assert dep.escrow.funds == 99_000_000  # the caller's deposit, dollars to micro-units
        assert AUDITOR in dep.groups[0].spec["requirements"]["signed_by"]["any_of"]
        bids = await wait_for_bids(client, dseq, count=2)
        r = await client.get("/v1/bids", params={"dseq": dseq})
        check_shape(openapi, "/v1/bids", "get", r)
        audited = {p.address for p in net.world.providers.values() if p.audited}
        assert {b["bid"]["id"]["provider"] for b in bids} <= audited
        r = await lease_cheapest(client, dseq, manifest)
        assert r.status_code == 200, r.text
        check_shape(openapi, "/v1/leases", "post", r)
        data = await wait_ready(client, dseq)
        lease = data["leases"][0]
        assert set(lease["status"]["services"]) == {"web", "api", "db"}
        assert all(s["uris"] for s in lease["status"]["services"].values())
        r = await client.get(f"/v1/deployments/{dseq}")
        check_shape(openapi, "/v1/deployments/{dseq}", "get", r)
        r = await client.get("/v1/deployments")
        check_shape(openapi, "/v1/deployments", "get", r)
        assert r.json()["data"]["pagination"]["total"] == 1


async def test_lease_retry_is_idempotent_and_skipped_while_a_lease_is_active() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        first = await lease_cheapest(client, dseq, manifest)
        assert first.status_code == 200
        again = await client.post(
            "/v1/leases",
            json={
                "manifest": manifest,
                "leases": [
                    {
                        k: first.json()["data"]["leases"][0]["id"][k]
                        for k in ("dseq", "gseq", "oseq", "provider")
                    }
                ],
            },
        )
        assert again.status_code == 200
        assert len(net.world.deployment(net.owner("k"), int(dseq)).leases) == 1
        lost = next(
            b
            for b in (await client.get(f"/v1/bids/{dseq}")).json()["data"]
            if b["bid"]["state"] == "lost"
        )["bid"]["id"]
        r = await client.post(
            "/v1/leases",
            json={
                "manifest": manifest,
                "leases": [{k: lost[k] for k in ("dseq", "gseq", "oseq", "provider")}],
            },
        )
        # #hasActiveLease: a lease is active, so nothing is created; the manifest goes to the
        # lost bid's provider, which has no lease, and its 404 comes back through Console.
        assert (r.status_code, r.json()["message"]) == (404, "no lease for deployment")
        assert len(net.world.deployment(net.owner("k"), int(dseq)).leases) == 1


async def test_manifest_hash_mismatch_is_rejected_by_the_provider() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        tampered = manifest.replace("nginx:1.27", "nginx:1.28")
        r = await lease_cheapest(client, dseq, tampered)
        assert r.status_code == 400
        body = r.json()
        assert "manifest version validation failed" in body["message"]
        assert body["data"]["status"] == 422
        # The lease exists; the right manifest can still be sent.
        lease = net.world.deployment(net.owner("k"), int(dseq)).leases[0]
        ids = {"dseq": dseq, "gseq": 1, "oseq": 1, "provider": lease.provider}
        r = await client.post("/v1/leases", json={"manifest": manifest, "leases": [ids]})
        assert r.status_code == 200
        await wait_ready(client, dseq)


async def test_console_402_when_balance_is_short() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("poor")
        net.set_balance(net.owner("poor"), 1000)
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.5}})
        assert r.status_code == 402
        assert r.json()["code"] == "payment_required"
        assert net.world.deployments == {}


async def test_close_is_idempotent_and_refunds() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        for _ in range(2):
            r = await client.delete(f"/v1/deployments/{dseq}")
            assert r.status_code == 200 and r.json() == {"data": {"success": True}}
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert data["deployment"]["state"] == "closed"
        assert data["leases"][0]["state"] == "closed" and data["leases"][0]["status"] is None
        assert data["escrow_account"]["state"]["state"] == "closed"
        r = await client.post("/v1/deposit-deployment", json={"data": {"dseq": dseq, "deposit": 1}})
        assert r.status_code == 400 and "Deployment closed" in r.json()["message"]
        listed = (await client.get("/v1/deployments")).json()["data"]
        assert listed["deployments"] == []


async def test_deposit_and_update() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        r = await client.post(
            "/v1/deposit-deployment", json={"data": {"dseq": dseq, "deposit": 1.5}}
        )
        assert r.status_code == 200
        deposits = r.json()["data"]["escrow_account"]["state"]["deposits"]
        assert deposits[-1]["balance"]["amount"].startswith("1500000.")
        await wait_ready(client, dseq)
        old_hash = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]["deployment"][
            "hash"
        ]
        r = await client.put(
            f"/v1/deployments/{dseq}", json={"data": {"sdl": sdl(image="nginx:1.28")}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["deployment"]["hash"] != old_hash
        status = r.json()["data"]["leases"][0]["status"]
        assert status["services"]["web"]["observed_generation"] == 2
        assert status["services"]["web"]["available"] == 0  # pulling the new image
        await wait_ready(client, dseq)
        r = await client.put(f"/v1/deployments/{dseq}", json={"data": {"sdl": sdl(count=3)}})
        assert r.status_code == 400 and "cross-validation" in r.json()["message"]


async def test_providers_and_misc_routes(openapi: Any) -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        r = await net.client(api_key=None).get("/v1/providers")
        assert r.status_code == 200 and len(r.json()) == 5
        check_shape(openapi, "/v1/providers", "get", r)
        summit = net.provider("summit")
        r = await client.get(f"/v1/providers/{summit.address}")
        check_shape(openapi, "/v1/providers/{address}", "get", r)
        assert r.json()["hostUri"] == f"{net.base_url}/gateway/{summit.address}"
        assert {g["model"] for g in r.json()["gpuModels"]} == {"h100", "a100", "rtx4090"}
        r = await client.get("/v1/balances")
        assert r.json()["data"]["balance"] == 1000.0
        r = await client.get("/v1/weekly-cost")
        assert r.json() == {"data": {"weeklyCost": 0.0}}
        r = await client.post("/v1/certificates")
        assert r.status_code == 400 and "removed" in r.json()["error"]


async def test_injected_errors_before_and_after() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        net.set_faults(error_rate=1.0, error_phase="before", error_status=503)
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.5}})
        assert r.status_code == 503
        assert r.json() == {
            "error": "ServiceUnavailableError",
            "message": "Service Unavailable",
            "code": "service_unavailable",
            "type": "server_error",
        }
        assert net.world.deployments == {}
        net.set_faults(error_rate=1.0, error_phase="after", error_status=502)
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl(), "deposit": 0.5}})
        assert r.status_code == 502
        assert len(net.world.deployments) == 1  # done, but the answer was lost
        net.set_faults(error_rate=1.0, error_status=429)
        r = await client.get("/v1/deployments")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        net.set_faults()
        assert (await client.get("/v1/deployments")).status_code == 200


async def test_error_rate_is_a_rate() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        net.set_faults(error_rate=0.2, seed=7)
        codes = [(await client.get("/v1/deployments")).status_code for _ in range(200)]
        failures = codes.count(503)
        assert 20 <= failures <= 60
        assert set(codes) == {200, 503}


async def test_snapshot_timeline_gives_the_minimum_to_ready() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        await wait_ready(client, dseq)
        (dep,) = net.snapshot()["deployments"]
        timeline = dep["timeline"]
        config = net.world.config
        # falcon, harbor and pebble bid one block after the order opened
        assert timeline["first_bids"] == [timeline["created"] + 1]
        assert timeline["minimum_blocks"] == 1 + config.lease_visibility_blocks + config.pull_blocks
        assert timeline["ready"] == timeline["manifest"] + config.pull_blocks
        assert timeline["ready"] - timeline["created"] >= timeline["minimum_blocks"]


async def test_repeated_reads_within_a_block_still_see_every_change() -> None:
    async with SandboxNetwork(manual_clock=True) as net:  # manual clock: nothing moves by itself
        client = net.client("k")
        dseq, _ = await create(client)
        assert (await client.get(f"/v1/bids/{dseq}")).json() == {"data": []}
        await net.advance(1)
        bids = (await client.get(f"/v1/bids/{dseq}")).json()["data"]
        assert {b["bid"]["state"] for b in bids} == {"open"}
        provider = bids[0]["bid"]["id"]["provider"]
        net.world.create_lease(net.owner("k"), int(dseq), 1, 1, provider)
        states = {
            b["bid"]["id"]["provider"]: b["bid"]["state"]
            for b in (await client.get(f"/v1/bids/{dseq}")).json()["data"]
        }
        assert states[provider] == "active" and "lost" in states.values()
        first = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert first["leases"][0]["state"] == "active"
        net.set_provider_online(provider, False)
        assert (await client.get(f"/v1/deployments/{dseq}")).json()["data"]["leases"][0][
            "status"
        ] is None
        net.set_provider_online(provider, True)
        net.close_lease(net.owner("k"), int(dseq))
        again = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert again["leases"][0]["state"] == "closed"
        r = await client.post("/v1/deposit-deployment", json={"data": {"dseq": dseq, "deposit": 2}})
        assert r.status_code == 200
        after = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert len(after["escrow_account"]["state"]["deposits"]) == 2


async def test_escrow_running_out_closes_the_deployment_as_console_shows_it() -> None:
    config = WorldConfig(
        block_time=0.01, min_deposit=50, console_deposit=50, console_managed_deposit=True
    )
    async with SandboxNetwork(config=config) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        with anyio.fail_after(5):
            while (await client.get(f"/v1/deployments/{dseq}")).json()["data"]["deployment"][
                "state"
            ] != "closed":
                await anyio.sleep(0.01)
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        lease = data["leases"][0]
        assert (lease["state"], lease["reason"]) == (
            "insufficient_funds",
            "lease_closed_reason_insufficient_funds",
        )
        escrow = data["escrow_account"]["state"]
        assert escrow["state"] == "overdrawn"
        assert escrow["funds"][0]["amount"] == "0.000000000000000000"
        assert escrow["transferred"][0]["amount"] == "50.000000000000000000"


async def test_latency_fault_delays_console_and_gateway() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        net.set_faults(latency=0.2)
        for path in ("/v1/deployments", f"/gateway/{net.provider('falcon').address}/status"):
            start = anyio.current_time()
            assert (await client.get(path)).status_code == 200
            assert anyio.current_time() - start >= 0.2


async def test_top_up_beyond_the_balance_is_a_400_insufficient_funds() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, _ = await create(client)
        net.set_balance(net.owner("k"), 10)
        r = await client.post("/v1/deposit-deployment", json={"data": {"dseq": dseq, "deposit": 1}})
        assert r.status_code == 400
        assert r.json()["message"] == "Failed to deposit: Insufficient funds"


TWO_PLACEMENTS = """
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        to:
          - global: true
  gpu:
    image: ghcr.io/acme/infer:1.0
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources: {cpu: {units: 0.5}, memory: {size: 512Mi}, storage: {size: 1Gi}}
    gpu:
      resources:
        cpu: {units: 2}
        memory: {size: 8Gi}
        storage: {size: 20Gi}
        gpu: {units: 1, attributes: {vendor: {nvidia: [{model: h100}]}}}
  placement:
    east:
      pricing:
        web: {denom: uact, amount: 100}
    west:
      pricing:
        gpu: {denom: uact, amount: 5000}
deployment:
  web:
    east: {profile: web, count: 2}
  gpu:
    west: {profile: gpu, count: 1}
"""


async def test_two_groups_leased_from_two_providers_in_one_request() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, manifest = await create(client, TWO_PLACEMENTS)
        bids = await wait_for_bids(client, dseq, count=3)
        by_group: dict[int, list[dict[str, Any]]] = {}
        with anyio.fail_after(5):
            while 2 not in by_group:
                bids = (await client.get(f"/v1/bids/{dseq}")).json()["data"]
                by_group = {}
                for b in bids:
                    by_group.setdefault(b["bid"]["id"]["gseq"], []).append(b["bid"])
                await anyio.sleep(0.01)
        # groups are sorted by placement name: east (web) is 1, west (gpu) is 2
        assert {b["id"]["provider"] for b in by_group[2]} == {net.provider("summit").address}
        east = min(by_group[1], key=lambda b: float(b["price"]["amount"]))["id"]
        west = by_group[2][0]["id"]
        leases = [{k: x[k] for k in ("dseq", "gseq", "oseq", "provider")} for x in (east, west)]
        r = await client.post("/v1/leases", json={"manifest": manifest, "leases": leases})
        assert r.status_code == 200, r.text
        data = await wait_ready(client, dseq)
        services = {lease["id"]["gseq"]: lease["status"]["services"] for lease in data["leases"]}
        assert set(services[1]) == {"web"} and services[1]["web"]["total"] == 2
        assert set(services[2]) == {"gpu"}
        assert net.world.gpu_usage(net.provider("summit").address) == {"h100": 1}


async def test_console_lease_on_a_manual_clock_waits_for_the_block_that_shows_the_lease() -> None:
    async with SandboxNetwork(manual_clock=True) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        await net.advance(1)
        bids = (await client.get(f"/v1/bids/{dseq}")).json()["data"]
        lease = {k: bids[0]["bid"]["id"][k] for k in ("dseq", "gseq", "oseq", "provider")}
        answers: list[int] = []

        async def post() -> None:
            r = await client.post("/v1/leases", json={"manifest": manifest, "leases": [lease]})
            answers.append(r.status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(post)
            await anyio.sleep(0.1)
            assert answers == []  # the provider has not seen the lease: Console waits
            await net.advance(1)
        assert answers == [200]
