"""AkashIntegrationProvider end to end against the in-process sandbox (Console backend)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws.transport import ASGIWebSocketTransport

from minds371.errors import BudgetExceeded, LeaseError, ManifestRejected, NoBidsError
from minds371_akash import (
    AkashIntegrationProvider,
    BidPolicy,
    Budget,
    DeploymentNotReady,
    check_health,
    diagnosis_of,
)
from minds371_akash.market import ConsoleBackend
from minds371_sandbox import SandboxNetwork

from .conftest import API_KEY, BLOCK, Recorder, deployments_of, sdl, world

FAST = BidPolicy(enough_bids=2, bid_window_blocks=2)


def provider(
    backend: ConsoleBackend, recorder: Recorder | None = None, **kw
) -> AkashIntegrationProvider:
    return AkashIntegrationProvider(
        backend,
        policy=kw.pop("policy", FAST),
        on_event=recorder,
        journal=recorder,
        bid_timeout=kw.pop("bid_timeout", 5.0),
        ready_timeout=kw.pop("ready_timeout", 10.0),
        **kw,
    )


async def test_one_service_reaches_ready_with_endpoints(recorder):
    async with world() as (_net, backend):
        result = await provider(backend, recorder).deploy(sdl("web"))
        assert [e.service for e in result.endpoints] == ["web"]
        assert result.endpoints[0].url.startswith("http://")
        (lease,) = result.leases
        assert lease.status is not None and lease.status.ready
        assert result.cost.usd_per_month is not None and result.cost.usd_per_month > 0
        # progress in order, and the journal wraps every side effect
        order = [
            "deployment.created",
            "bids.selected",
            "lease.created",
            "manifest.sent",
            "deployment.ready",
        ]
        positions = [recorder.types.index(t) for t in order]
        assert positions == sorted(positions)
        assert [name for name, _ in recorder.journal] == [
            "before_create",
            "created",
            "before_lease",
            "leased",
        ]
        assert recorder.journal[1][1]["dseq"] == result.dseq
        doc = result.to_dict()
        assert doc["leases"][0]["price"]["denom"] == "uact"
        assert set(doc["cost"]) >= {"usd_per_month", "reference_usd_per_month", "savings_pct"}


async def test_three_services_all_ready():
    async with world() as (_net, backend):
        result = await provider(backend).deploy(sdl("three"))
        (lease,) = result.leases
        assert lease.status is not None
        assert sorted(lease.status.services) == ["api", "db", "web"]
        assert all(s.ready for s in lease.status.services.values())
        assert {e.service for e in result.endpoints} >= {"web", "api"}


async def test_no_bids_when_price_too_low_is_diagnosed_and_closed(recorder):
    async with world() as (net, backend):
        cheap = sdl("web").replace("amount: 1000", "amount: 0.001")
        akash = provider(backend, recorder, bid_timeout=0.6)
        with pytest.raises(NoBidsError) as info:
            await akash.deploy(cheap)
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None and diagnosis.kind == "no_bids"
        assert any("below their asking price" in a for a in diagnosis.actions)
        dseq = recorder.journal[1][1]["dseq"]
        (dep,) = [d for d in deployments_of(net, net.owner(API_KEY)) if int(d["dseq"]) == dseq]
        assert dep["state"] == "closed"
        assert ("closed", {"dseq": dseq, "reason": "failure"}) in recorder.journal


async def test_policy_rejections_are_explained():
    async with world() as (_net, backend):
        akash = provider(backend, policy=BidPolicy(max_price=Decimal("0.0001")), bid_timeout=0.6)
        with pytest.raises(NoBidsError) as info:
            await akash.deploy(sdl("web"))
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None
        assert any("rejected (price" in e for e in diagnosis.evidence)


async def test_unpullable_image_is_diagnosed():
    async with world() as (net, backend):
        bad = sdl("web").replace("nginx:1.27", "registry.invalid.example/app:1.0")
        with pytest.raises(DeploymentNotReady) as info:
            await provider(backend, ready_timeout=5.0).deploy(bad)
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None and diagnosis.kind == "image_pull_failed"
        assert all(d["state"] == "closed" for d in deployments_of(net, net.owner(API_KEY)))


async def test_crash_loop_is_diagnosed():
    async with world() as (_net, backend):
        bad = sdl("web").replace("nginx:1.27", "nginx:crashloop")
        with pytest.raises(DeploymentNotReady) as info:
            await provider(backend, ready_timeout=5.0).deploy(bad)
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None and diagnosis.kind == "crash_loop"


async def test_over_budget_spends_nothing():
    async with world() as (net, backend):
        akash = provider(backend, budget=Budget(max_price_per_block=Decimal(10)))
        with pytest.raises(BudgetExceeded):
            await akash.deploy(sdl("web"))
        akash = provider(backend, budget=Budget(max_deposit=Decimal(1000)))
        with pytest.raises(BudgetExceeded, match="minimum deposit"):
            await akash.deploy(sdl("web"))
        akash = provider(backend, budget=Budget(max_usd_per_month=Decimal("0.01")))
        with pytest.raises(BudgetExceeded, match="USD/month"):
            await akash.deploy(sdl("web"))
        assert deployments_of(net, net.owner(API_KEY)) == []


async def test_manifest_hash_mismatch_is_caught(recorder):
    async with world() as (_net, backend):
        akash = provider(backend, recorder)
        prepared = akash.prepare(sdl("web"))
        created = await akash.create(prepared)
        _, chosen = await akash.wait_for_bids(created.dseq, prepared)
        tampered = created.manifest.replace("nginx:1.27", "nginx:1.28")
        with pytest.raises(ManifestRejected) as info:
            await akash.lease(
                created.dseq, [r.bid for r in chosen.values()], prepared, manifest=tampered
            )
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None and diagnosis.kind == "manifest_rejected"
        await akash.close(created.dseq)


async def test_redundant_groups_use_distinct_providers_and_one_cannot_be_relet():
    async with world() as (net, backend):
        akash = provider(backend)
        text = sdl("redundant")
        result = await akash.deploy(text)
        providers = {lease.id.provider for lease in result.leases}
        assert len(result.leases) == 2 and len(providers) == 2
        lost = next(lease for lease in result.leases if lease.id.gseq == 1)
        net.close_lease(lost.id.owner, result.dseq, gseq=1, oseq=lost.id.oseq)
        health = await check_health(backend, result.dseq, [1, 2])
        assert health.healthy == (2,) and 1 in health.problems
        # Console's POST /v1/leases creates nothing while gseq 2's lease is active
        # (lease.service.ts #hasActiveLease): the group cannot be leased again on its own.
        with pytest.raises(LeaseError, match="skips lease creation") as failed:
            await akash.relet_group(result.dseq, 1, text)
        assert failed.value.details["active_gseqs"] == [2]
        await akash.close(result.dseq)


async def test_provider_offline_after_lease_is_detected():
    async with world() as (net, backend):
        akash = provider(backend)
        result = await akash.deploy(sdl("web"))
        (lease,) = result.leases
        net.set_provider_online(lease.id.provider, False)
        health = await check_health(backend, result.dseq, [1])
        assert health.healthy == ()
        assert health.problems[1].kind == "provider_offline"


async def test_find_existing_and_resume():
    async with world() as (_net, backend):
        akash = provider(backend)
        text = sdl("web")
        prepared = akash.prepare(text)
        created = await akash.create(prepared)
        assert [d.dseq for d in await akash.find_existing(text)] == [created.dseq]
        # the process "crashed" before leasing: resume bids, leases and waits
        result = await akash.resume(created.dseq, text)
        assert result.dseq == created.dseq and len(result.leases) == 1
        # resuming again only re-sends the manifest
        again = await akash.resume(created.dseq, text)
        assert [lease.id for lease in again.leases] == [lease.id for lease in result.leases]
        await akash.close(created.dseq)
        assert await akash.find_existing(text) == []


async def test_logs_and_events():
    async with world() as (_net, backend):
        akash = provider(backend)
        result = await akash.deploy(sdl("web"))
        await anyio.sleep(0.3)  # let the pod write a few lines
        lines = [line async for _, line in akash.logs(result.dseq, tail=5)]
        events = [event async for _, event in akash.events(result.dseq)]
        assert lines and all(line.service == "web" for line in lines)
        assert any(e.reason for e in events)


async def test_close_only_the_given_deployment():
    async with world() as (_net, backend):
        akash = provider(backend)
        first = await akash.deploy(sdl("web"))
        second = await akash.deploy(sdl("web"))
        await akash.close(first.dseq)
        assert (await akash.status(first.dseq)).state == "closed"
        assert (await akash.status(second.dseq)).active


async def test_closed_deployment_cannot_be_resumed():
    async with world() as (_net, backend):
        akash = provider(backend)
        result = await akash.deploy(sdl("web"))
        await akash.close(result.dseq)
        with pytest.raises(LeaseError, match="closed"):
            await akash.resume(result.dseq, sdl("web"))


async def test_fault_injection_never_duplicates():
    async with world(api_key="faulty-key") as (net, backend):
        net.set_faults(error_rate=0.2, error_phase="both", seed=7)
        akash = provider(backend)
        results = []

        async def one() -> None:
            results.append(await akash.deploy(sdl("web")))

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
        net.set_faults()
        assert len(results) == 8
        deps = deployments_of(net, net.owner("faulty-key"))
        active = [d for d in deps if d["state"] == "active"]
        assert sorted(int(d["dseq"]) for d in active) == sorted(r.dseq for r in results)
        assert len(deps) == len(active)  # no stray deployment created and closed behind our back


async def test_escrow_running_dry_is_diagnosed():
    async with world() as (net, backend):
        harbor = net.provider("harbor").address  # bids 0.6 of the order's max price
        pricey = sdl("web").replace("amount: 1000", "amount: 80000")
        akash = provider(backend, policy=BidPolicy(allow_providers=(harbor,), enough_bids=1))
        result = await akash.deploy(pricey)  # 48000 uact/block drains 500000 in ~10 blocks
        await net.wait_blocks(15)
        health = await check_health(backend, result.dseq, [1])
        assert health.problems[1].kind == "insufficient_funds"
        assert (await akash.status(result.dseq)).state == "closed"


async def test_provider_going_offline_while_waiting_is_diagnosed():
    async with world() as (net, backend):
        akash = provider(backend)
        prepared = akash.prepare(sdl("web"))
        created = await akash.create(prepared)
        _, chosen = await akash.wait_for_bids(created.dseq, prepared)
        bids = [r.bid for r in chosen.values()]
        await akash.lease(created.dseq, bids, prepared, manifest=created.manifest)
        net.set_provider_online(bids[0].provider, False)
        with pytest.raises(LeaseError) as info:
            await akash.wait_until_ready(created.dseq, prepared)
        assert info.value.retryable  # another provider may serve the group
        diagnosis = diagnosis_of(info.value)
        assert diagnosis is not None and diagnosis.kind == "provider_offline"


class HeightsOfRequests:
    """Records the block height at which each request reached the sandbox, in order."""

    def __init__(self, net: SandboxNetwork) -> None:
        self.net = net
        self.app = net.app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"], self.net.height))
        await self.app(scope, receive, send)


async def test_on_console_the_wait_for_bids_ends_once_every_audited_provider_has_bid():
    # Console shows only audited providers' bids: the two that are not are no candidates, so
    # the wait ends as soon as the three audited ones bid, not after the bid window.
    patient = BidPolicy(enough_bids=50, bid_window_blocks=600)  # a 30 s window
    async with world() as (_net, backend):
        audited = {p.address for p in await backend.list_providers() if p.audited}
        assert 0 < len(audited) < len(await backend.list_providers())
        akash = provider(backend, policy=patient, bid_timeout=60.0)
        prepared = akash.prepare(sdl("web"))
        created = await akash.create(prepared)
        with anyio.fail_after(10):
            rankings, chosen = await akash.wait_for_bids(created.dseq, prepared)
        (ranking,) = rankings
        assert {r.bid.provider for r in ranking.ranked} == audited
        assert chosen[1].bid.provider in audited


async def test_a_fresh_deployment_is_not_polled_for_bids_before_the_next_block():
    async with SandboxNetwork(block_time=BLOCK) as net:
        app = HeightsOfRequests(net)
        async with (
            httpx.AsyncClient(
                transport=ASGIWebSocketTransport(app=app), base_url=net.base_url
            ) as client,
            ConsoleBackend(api_key=API_KEY, http_client=client, block_time=BLOCK) as backend,
        ):
            akash = provider(backend)
            prepared = akash.prepare(sdl("web"))
            created = await akash.create(prepared)
            created_at = net.height
            await akash.wait_for_bids(created.dseq, prepared, just_created=True)
            polls = [h for method, path, h in app.seen if path == "/v1/bids"]
            assert polls and polls[0] > created_at
