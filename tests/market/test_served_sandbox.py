"""End to end against ``minds371 sandbox serve`` on 127.0.0.1: Console backend and CLI backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.errors import ManifestRejected, NoBidsError
from minds371_akash import (
    AkashIntegrationProvider,
    BidPolicy,
    DeploymentNotReady,
    DeploymentResult,
    check_health,
    diagnosis_of,
)
from minds371_akash.market import CliBackend, MarketBackend
from minds371_akash.networks import open_backend
from minds371_sandbox import SandboxServer
from tests.standins import standins

from .conftest import sdl

BLOCK = 0.05


def provider(backend: MarketBackend, **kw: Any) -> AkashIntegrationProvider:
    return AkashIntegrationProvider(
        backend,
        policy=BidPolicy(enough_bids=2),
        bid_timeout=kw.pop("bid_timeout", 10.0),
        ready_timeout=kw.pop("ready_timeout", 20.0),
        **kw,
    )


async def deploy_all(akash: AkashIntegrationProvider, *names: str) -> dict[str, DeploymentResult]:
    results: dict[str, DeploymentResult] = {}

    async def one(name: str) -> None:
        results[name] = await akash.deploy(sdl(name))

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)
    return results


def assert_ready(result: DeploymentResult, services: set[str]) -> None:
    (lease,) = result.leases
    assert lease.status is not None and lease.status.ready
    assert set(lease.status.services) == services
    assert any(e.kind == "http" and e.service == "web" for e in result.endpoints)


def owned(snapshot: dict[str, Any], owner: str) -> list[dict[str, Any]]:
    return [d for d in snapshot["deployments"] if d["owner"] == owner]


async def test_console_backend_against_served_sandbox():
    async with SandboxServer(block_time=BLOCK) as server:
        async with open_backend("sandbox", sandbox_url=server.base_url) as backend:
            akash = provider(backend)
            results = await deploy_all(akash, "web", "three")
            assert_ready(results["web"], {"web"})
            assert_ready(results["three"], {"web", "api", "db"})
            owner = results["web"].owner

            # logs and events stream over the gateway's WebSockets, beside the API's own pool
            lines = [line async for _, line in akash.logs(results["web"].dseq, tail=2)]
            assert lines and lines[0].service == "web"
            events = [event async for _, event in akash.events(results["web"].dseq)]
            assert events

            # no bids: price too low -> NoBidsError with a diagnosis, deployment closed
            cheap = sdl("web").replace("amount: 1000", "amount: 0.001")
            with pytest.raises(NoBidsError) as no_bids:
                await provider(backend, bid_timeout=0.5).deploy(cheap)
            assert (d := diagnosis_of(no_bids.value)) is not None and d.kind == "no_bids"

            # a manifest whose hash is not the one on chain is refused by the provider
            prepared = akash.prepare(sdl("web"))
            created = await akash.create(prepared)
            _, chosen = await akash.wait_for_bids(created.dseq, prepared)
            with pytest.raises(ManifestRejected):
                await akash.lease(
                    created.dseq,
                    [r.bid for r in chosen.values()],
                    prepared,
                    manifest=created.manifest.replace("nginx:1.27", "nginx:latest"),
                )
            await akash.close(created.dseq)

            # an image that cannot be pulled is diagnosed
            bad = sdl("web").replace("nginx:1.27", "nginx:nonexistent")
            with pytest.raises(DeploymentNotReady) as pull:
                await provider(backend, ready_timeout=10.0).deploy(bad)
            assert (d := diagnosis_of(pull.value)) is not None and d.kind == "image_pull_failed"

            # a provider going offline after the lease is detected
            web = results["web"]
            await server.set_provider_online(web.leases[0].id.provider, False)
            health = await check_health(backend, web.dseq, [1])
            assert health.problems[1].kind == "provider_offline"
            await server.set_provider_online(web.leases[0].id.provider, True)

            snapshot = await server.snapshot()
            states = {int(d["dseq"]): d["state"] for d in owned(snapshot, owner)}
            assert states[web.dseq] == "active" and states[results["three"].dseq] == "active"
            assert list(states.values()).count("active") == 2  # every failure was closed


async def test_injected_5xx_still_deploys_every_request_once():
    async with SandboxServer(block_time=BLOCK, api_keys=["fault-test-key"]) as server:
        await server.set_faults(error_rate=0.2, error_phase="both", seed=11)
        async with open_backend(
            "sandbox", sandbox_url=server.base_url, api_key="fault-test-key"
        ) as backend:
            akash = provider(backend)
            results: list[DeploymentResult] = []

            async def one() -> None:
                results.append(await akash.deploy(sdl("web")))

            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(one)
        await server.set_faults()
        assert len(results) == 12  # 100% successful
        deps = owned(await server.snapshot(), results[0].owner)
        assert sorted(int(d["dseq"]) for d in deps) == sorted(r.dseq for r in results)
        assert len({r.dseq for r in results}) == 12  # never two requests on one deployment
        assert all(d["state"] == "active" for d in deps)  # never two deployments for one


@pytest.mark.slow
async def test_cli_backend_against_served_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tools = standins(tmp_path, monkeypatch)
    async with SandboxServer(block_time=BLOCK) as server:
        await tools.certify(server.base_url, "deployer")
        config = tools.config(server.base_url, "deployer", block_time=BLOCK)
        async with CliBackend(config) as backend:
            akash = provider(backend, ready_timeout=60.0)
            results = await deploy_all(akash, "web", "three")
            assert_ready(results["web"], {"web"})
            assert_ready(results["three"], {"web", "api", "db"})
            lines = [line async for _, line in akash.logs(results["web"].dseq, tail=2)]
            assert lines and lines[0].service == "web"
            for result in results.values():
                await akash.close(result.dseq)
                assert (await akash.status(result.dseq)).state == "closed"
