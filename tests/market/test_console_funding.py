"""The Console backend against the sandbox's strict Console: deposits, leases, trial wallets."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any

import anyio
import httpx

from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash._deploy_types import DeployEvent
from minds371_akash._in_process_transport import InProcessTransport
from minds371_akash.market import ConsoleBackend
from minds371_akash.market.console import lease_timeout
from minds371_sandbox import SandboxNetwork, WorldConfig
from minds371_sandbox._identity import TRIAL_KEY_PREFIX

from .conftest import API_KEY, BLOCK, sdl, world

FAST = BidPolicy(enough_bids=2, bid_window_blocks=2)


def provider(backend: ConsoleBackend, **kw: Any) -> AkashIntegrationProvider:
    return AkashIntegrationProvider(
        backend, policy=kw.pop("policy", FAST), bid_timeout=5.0, ready_timeout=10.0, **kw
    )


async def test_create_without_an_amount_sends_the_default_deposit() -> None:
    async with world() as (net, backend):
        akash = provider(backend)
        prepared = akash.prepare(sdl("web"))
        created = await backend.create_deployment(
            prepared.sdl, version=prepared.version, manifest=prepared.manifest
        )
        dep = net.world.deployment(net.owner(API_KEY), created.dseq)
        assert dep.escrow.funds == Decimal(500_000)  # $0.50, as Console's web app sends

        result = await akash.deploy(sdl("web"))  # the whole flow, with no deposit named
        funded = net.world.deployment(net.owner(API_KEY), result.dseq).escrow.deposits
        assert funded[0]["amount"] == "500000"


class _Recording(httpx.AsyncBaseTransport):
    """Passes requests to the in-process sandbox, a network's latency later, and notes each
    one's timeouts and how many went to each route."""

    def __init__(self, inner: InProcessTransport, latency: float = 0.0) -> None:
        self.inner = inner
        self.latency = latency
        self.timeouts: dict[tuple[str, str], dict[str, float]] = {}
        self.counts: Counter[tuple[str, str]] = Counter()

    async def __aenter__(self) -> _Recording:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts[(request.method, request.url.path)] = dict(request.extensions["timeout"])
        self.counts[(request.method, request.url.path)] += 1
        await anyio.sleep(self.latency)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def recorded(
    net: SandboxNetwork, latency: float = 0.0
) -> AsyncIterator[tuple[ConsoleBackend, _Recording]]:
    transport = _Recording(InProcessTransport(app=net.app), latency)
    # A loopback root: the backend lets a client it cannot see into reach loopback only.
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        async with ConsoleBackend(api_key=API_KEY, http_client=client, block_time=BLOCK) as c:
            yield c, transport


async def test_lease_call_waits_for_the_transaction_and_every_manifest_send() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net, recorded(net) as (backend, seen):
        result = await provider(backend).deploy(sdl("web"))
        assert result.leases
        lease_read = seen.timeouts[("POST", "/v1/leases")]["read"]
        # a tx, then per lease up to three 15 s manifest sends 6 s apart (provider.service.ts)
        assert lease_read >= 60 + 3 * 15 + 2 * 6
        assert lease_read == lease_timeout(1)
        assert seen.timeouts[("GET", "/v1/bids")]["read"] == 30.0


async def test_an_update_waits_for_the_transaction_and_every_manifest_send() -> None:
    # PUT /v1/deployments signs the update, then sends the manifest to each lease's provider
    # with the lease route's retries (deployment-writer.service.ts, updateByUserIdAndDseq).
    async with SandboxNetwork(block_time=BLOCK) as net, recorded(net) as (backend, seen):
        result = await provider(backend).deploy(sdl("web"))
        await backend.update_deployment(result.dseq, sdl("web"))
        assert seen.timeouts[("PUT", f"/v1/deployments/{result.dseq}")]["read"] == lease_timeout(1)


async def test_no_lease_for_deployment_after_leasing_is_retried() -> None:
    # The provider sees a lease 8 blocks after it lands: Console's own three sends (two blocks
    # apart at most) give up with its 404 "no lease for deployment"; the retry creates nothing
    # (#hasActiveLease) and sends the manifest again until the provider has it.
    config = WorldConfig(lease_visibility_blocks=8)
    async with world(config=config) as (net, backend):
        result = await provider(backend).deploy(sdl("web"))
        dep = net.world.deployment(net.owner(API_KEY), result.dseq)
        assert len(dep.leases) == 1 and dep.leases[0].manifest is not None


async def test_concurrent_creates_on_a_trial_wallet_do_not_close_each_other() -> None:
    key = TRIAL_KEY_PREFIX + "market"
    async with world(api_key=key) as (net, backend):
        assert await backend.is_trial_wallet()
        first_created = anyio.Event()

        def on_event(event: DeployEvent) -> None:
            if event.type == "deployment.created":
                first_created.set()

        dseqs: list[int] = []

        async def deploy(akash: AkashIntegrationProvider) -> None:
            dseqs.append((await akash.deploy(sdl("web"))).dseq)

        slow = BidPolicy(enough_bids=2, bid_window_blocks=6)  # stays lease-less a while
        async with anyio.create_task_group() as tg:
            tg.start_soon(deploy, provider(backend, policy=slow, on_event=on_event))
            await first_created.wait()
            await net.wait_blocks(1)  # Console closes lease-less deployments of older blocks
            tg.start_soon(deploy, provider(backend))
            tg.start_soon(deploy, provider(backend))
        owner = net.owner(key)
        assert len(dseqs) == 3
        assert all(net.world.deployment(owner, d).state == "active" for d in dseqs)


async def test_a_burst_of_creates_asks_once_whether_the_wallet_is_trialing() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net, recorded(net, 0.05) as (backend, seen):
        answers: list[bool] = []

        async def ask() -> None:
            answers.append(await backend.is_trial_wallet())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(ask)
        assert answers == [False] * 5
        assert not await backend.is_trial_wallet()  # remembered
        assert seen.counts[("GET", "/v1/user/me")] == 1
        assert seen.counts[("GET", "/v1/wallets")] == 1


async def test_a_paying_wallet_is_not_serialized() -> None:
    async with world() as (_net, backend):
        assert not await backend.is_trial_wallet()
