"""Many deployments through one Console backend: request lanes, shared listings, fewer polls."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from httpx_ws.transport import ASGIWebSocketTransport
from structlog.testing import capture_logs

from minds371.errors import MarketError
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash._prepare import prepare_sdl
from minds371_akash.market import ConsoleBackend, RetryPolicy
from minds371_akash.market._errors import NotFound
from minds371_sandbox import SandboxNetwork, WorldConfig

from .conftest import API_KEY, sdl

Scope = dict[str, Any]


class HoldListings:
    """An ASGI wrapper around the sandbox that holds ``GET /v1/deployments`` (the listing)
    while ``hold`` is set, until ``release`` fires, and answers it 503 while ``fail_listings``
    is set; every request's method and path is counted."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hold = False
        self.fail_listings = False
        self.held = anyio.Event()
        self.release = anyio.Event()
        self.seen: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen[(scope["method"], scope["path"])] += 1
            listing = (scope["method"], scope["path"]) == ("GET", "/v1/deployments")
            if self.hold and listing:
                self.held.set()
                await self.release.wait()
            if self.fail_listings and listing:
                body = b'{"error":"ServiceUnavailableError","message":"down","code":"x"}'
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@asynccontextmanager
async def console(
    net: SandboxNetwork, **kw: Any
) -> AsyncIterator[tuple[ConsoleBackend, HoldListings]]:
    app = HoldListings(net.app)
    transport = ASGIWebSocketTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
        async with ConsoleBackend(api_key=API_KEY, http_client=client, **kw) as backend:
            backend.name = "sandbox"
            yield backend, app


async def test_reads_do_not_queue_behind_held_writes():
    # A lease write is held by Console until the provider sees the lease (a block later); with
    # one slot for reads and one for writes, a read still goes through meanwhile.
    async with SandboxNetwork(manual_clock=True) as net:
        async with console(net, max_concurrent_requests=1, max_concurrent_writes=1) as (
            backend,
            _,
        ):
            prepared = prepare_sdl(sdl("web"))
            created = await backend.create_deployment(
                prepared.sdl, version=prepared.version, manifest=prepared.manifest
            )
            await net.advance(5)
            bids = await backend.list_bids(created.dseq)
            assert bids
            record = net.world.deployments[(net.owner(API_KEY), created.dseq)]
            leased = anyio.Event()

            async def lease() -> None:
                await backend.create_leases(created.dseq, [bids[0].id], manifest=created.manifest)
                leased.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(lease)
                with anyio.fail_after(5):
                    while not record.leases:  # the write is in: the lease exists, held for a block
                        await anyio.sleep(0.01)
                    seen = await backend.get_deployment(created.dseq)
                assert not leased.is_set()
                assert [lease.id.provider for lease in seen.leases] == [bids[0].provider]
                await net.advance(1)
                with anyio.fail_after(5):
                    await leased.wait()


async def test_concurrent_creates_share_one_listing():
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net, snapshot_ttl=30.0) as (backend, app):
            prepared = prepare_sdl(sdl("web"))
            dseqs: list[int] = []

            async def create() -> None:
                created = await backend.create_deployment(
                    prepared.sdl, version=prepared.version, manifest=prepared.manifest
                )
                dseqs.append(created.dseq)

            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(create)
            assert len(set(dseqs)) == 10
            assert app.seen[("GET", "/v1/deployments")] == 1
            assert app.seen[("POST", "/v1/deployments")] == 10


async def test_an_aging_listing_is_refreshed_while_creates_go_on():
    # Past half the TTL one create takes a fresh listing; the others keep the current one
    # (still valid) instead of all waiting behind the refresh.
    ttl = 0.6
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net, snapshot_ttl=ttl) as (backend, app):
            prepared = prepare_sdl(sdl("web"))

            async def create() -> int:
                created = await backend.create_deployment(
                    prepared.sdl, version=prepared.version, manifest=prepared.manifest
                )
                return created.dseq

            await create()  # the first listing
            await anyio.sleep(ttl / 2 + 0.05)
            app.hold = True
            refreshed: list[int] = []

            async def refreshing_create() -> None:
                refreshed.append(await create())

            async with anyio.create_task_group() as tg:
                tg.start_soon(refreshing_create)
                with anyio.fail_after(5):
                    await app.held.wait()  # that create's listing is held on the server
                    other = await create()  # goes on with the current listing
                assert not refreshed
                app.release.set()
            assert refreshed and refreshed[0] != other
            assert app.seen[("GET", "/v1/deployments")] == 2
            assert app.seen[("POST", "/v1/deployments")] == 3


async def test_a_failed_early_refresh_keeps_the_listing_that_is_still_valid():
    ttl = 0.6
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net, snapshot_ttl=ttl) as (backend, app):
            prepared = prepare_sdl(sdl("web"))
            first = await backend.create_deployment(
                prepared.sdl, version=prepared.version, manifest=prepared.manifest
            )
            await anyio.sleep(ttl / 2 + 0.05)
            app.fail_listings = True
            with capture_logs() as logs:
                second = await backend.create_deployment(
                    prepared.sdl, version=prepared.version, manifest=prepared.manifest
                )
            assert second.dseq != first.dseq
            assert app.seen[("GET", "/v1/deployments")] == 1 + RetryPolicy().maximum_attempts
            # the operator hears of the failed refresh, with the server's message
            warnings = [e for e in logs if e["event"] == "minds371.akash.snapshot_refresh_failed"]
            assert [(e["log_level"], "down" in e["error"]) for e in warnings] == [("warning", True)]


async def test_creates_waiting_for_a_failed_listing_share_its_failure():
    # Nothing is created without a valid listing; the creates that waited for one listing fail
    # with it instead of each trying the (failing) listing again in turn.
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net) as (backend, app):
            prepared = prepare_sdl(sdl("web"))
            app.hold = app.fail_listings = True
            failures: list[BaseException] = []

            async def create() -> None:
                try:
                    await backend.create_deployment(
                        prepared.sdl, version=prepared.version, manifest=prepared.manifest
                    )
                except MarketError as exc:
                    failures.append(exc)

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(create)
                with anyio.fail_after(5):
                    await app.held.wait()
                await anyio.sleep(0.05)  # every create is waiting for that listing
                app.release.set()
            assert len(failures) == 5
            assert app.seen[("GET", "/v1/deployments")] == RetryPolicy().maximum_attempts
            assert app.seen[("POST", "/v1/deployments")] == 0


async def test_an_expired_listing_is_taken_again_before_a_create():
    ttl = 0.2
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net, snapshot_ttl=ttl) as (backend, app):
            prepared = prepare_sdl(sdl("web"))
            first = await backend.create_deployment(
                prepared.sdl, version=prepared.version, manifest=prepared.manifest
            )
            await anyio.sleep(ttl + 0.05)
            # the new listing holds the first deployment: it is not "new" to a recovery
            assert await backend._create_guard.existing(prepared.version) == frozenset({first.dseq})
            assert app.seen[("GET", "/v1/deployments")] == 2


async def test_the_lease_response_is_the_first_readiness_poll():
    # Pods ready as soon as the manifest is in (no pull time): the lease response already shows
    # them ready, so deploy() needs no deployment poll at all.
    config = WorldConfig(block_time=0.05, pull_blocks=0)
    async with SandboxNetwork(config=config) as net:
        async with console(net, block_time=0.05) as (backend, app):
            akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=1))
            result = await akash.deploy(sdl("web"))
            assert result.leases[0].status is not None and result.leases[0].status.ready
            polls = sum(
                n
                for (method, path), n in app.seen.items()
                if method == "GET" and path.startswith("/v1/deployments/")
            )
            assert polls == 0
            assert app.seen[("POST", "/v1/leases")] == 1


async def test_readiness_polls_after_a_lease_response_that_is_not_ready():
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net, block_time=0.05) as (backend, app):
            akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=1))
            result = await akash.deploy(sdl("web"))
            assert result.leases[0].status is not None and result.leases[0].status.ready
            polls = sum(
                n
                for (method, path), n in app.seen.items()
                if method == "GET" and path.startswith("/v1/deployments/")
            )
            assert polls >= 1  # the default pull time: ready only blocks after the lease


async def test_providers_on_one_backend_share_its_provider_listing():
    async with SandboxNetwork(block_time=0.05) as net, console(net) as (backend, app):
        # one provider per task, and the watcher's per check: all on the runtime's one backend
        first, second = AkashIntegrationProvider(backend), AkashIntegrationProvider(backend)
        listed = await first._providers()
        assert listed  # the sandbox's providers
        assert await second._providers() == listed
        assert app.seen[("GET", "/v1/providers")] == 1


class HoldProviderReads:
    """Holds every ``GET /v1/providers/{address}`` until ``release`` fires, counting them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = anyio.Event()
        self.seen: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/v1/providers/"):
            self.seen[path] += 1
            await self.release.wait()
        await self.app(scope, receive, send)


@asynccontextmanager
async def provider_reads_held() -> AsyncIterator[tuple[HoldProviderReads, httpx.AsyncClient]]:
    """A sandbox whose provider reads wait for ``app.release``, and a client into it."""
    async with SandboxNetwork(manual_clock=True) as net:
        app = HoldProviderReads(net.app)
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
            yield app, client


async def test_concurrent_reads_of_one_provider_share_a_request_and_others_keep_their_own():
    async with provider_reads_held() as (app, client):
        async with ConsoleBackend(api_key=API_KEY, http_client=client) as backend:
            listed = [p.address for p in await backend.list_providers()]
            assert len(listed) >= 2
            a, b = listed[:2]
            wanted = [a, b, a, b, a]
            answers: dict[int, str] = {}

            async def ask(i: int, address: str) -> None:
                answers[i] = (await backend.get_provider(address)).address

            async with anyio.create_task_group() as tg:
                for i, address in enumerate(wanted):
                    tg.start_soon(ask, i, address)
                await anyio.wait_all_tasks_blocked()
                app.release.set()
            # each caller got the provider it asked for, not the other one in flight with it
            assert answers == dict(enumerate(wanted))
            assert app.seen == {f"/v1/providers/{a}": 1, f"/v1/providers/{b}": 1}
            # within provider_ttl the answer is kept: the next read asks nobody
            await backend.get_provider(a)
            assert app.seen[f"/v1/providers/{a}"] == 1


async def test_a_kept_provider_answer_expires_after_provider_ttl():
    async with provider_reads_held() as (app, client):
        app.release.set()
        async with (
            ConsoleBackend(api_key=API_KEY, http_client=client, provider_ttl=0.2) as backend,
            ConsoleBackend(api_key=API_KEY, http_client=client, provider_ttl=0) as uncached,
        ):
            address = (await backend.list_providers())[0].address
            path = f"/v1/providers/{address}"
            await backend.get_provider(address)
            await backend.get_provider(address)
            assert app.seen[path] == 1
            await anyio.sleep(0.25)
            await backend.get_provider(address)
            assert app.seen[path] == 2
            # provider_ttl=0 keeps nothing
            await uncached.get_provider(address)
            await uncached.get_provider(address)
            assert app.seen[path] == 4


async def test_callers_joined_to_a_cancelled_provider_read_ask_for_themselves():
    async with provider_reads_held() as (app, client):
        async with ConsoleBackend(api_key=API_KEY, http_client=client) as backend:
            address = (await backend.list_providers())[0].address
            got: list[str] = []

            async def leader(scope: anyio.CancelScope) -> None:
                with scope:
                    await backend.get_provider(address)

            async def follower() -> None:
                got.append((await backend.get_provider(address)).address)

            scope = anyio.CancelScope()
            async with anyio.create_task_group() as tg:
                tg.start_soon(leader, scope)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(follower)
                await anyio.wait_all_tasks_blocked()
                assert app.seen[f"/v1/providers/{address}"] == 1  # joined the leader's read
                scope.cancel()
                await anyio.wait_all_tasks_blocked()
                app.release.set()
            assert got == [address]
            assert app.seen[f"/v1/providers/{address}"] == 2  # its own read, not a cancellation


async def test_bid_polls_of_two_deployments_each_get_their_own_bids():
    # Request URLs are kept parsed per backend: dseq is in the query, so a URL kept for one
    # deployment must never serve another's poll.
    async with SandboxNetwork(manual_clock=True) as net, console(net) as (backend, _):
        prepared = [prepare_sdl(sdl(name)) for name in ("web", "three")]
        created = [
            await backend.create_deployment(p.sdl, version=p.version, manifest=p.manifest)
            for p in prepared
        ]
        await net.advance(5)
        for _ in range(2):
            for deployment in created:
                bids = await backend.list_bids(deployment.dseq)
                assert bids
                assert {b.id.dseq for b in bids} == {deployment.dseq}


async def test_a_failed_provider_read_is_not_shared_with_callers_that_joined_it():
    async with provider_reads_held() as (app, client):
        async with ConsoleBackend(api_key=API_KEY, http_client=client) as backend:
            unknown = "akash1" + "q" * 38
            failures: list[str] = []

            async def ask() -> None:
                try:
                    await backend.get_provider(unknown)
                except NotFound as exc:
                    failures.append(exc.message)

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(ask)
                await anyio.wait_all_tasks_blocked()
                assert app.seen[f"/v1/providers/{unknown}"] == 1
                app.release.set()
            assert len(failures) == 3
            # the two that joined asked for themselves, at once, after the first read failed
            assert app.seen[f"/v1/providers/{unknown}"] == 3


class CountInFlight:
    """An ASGI wrapper around the sandbox that keeps each ``GET /v1/bids`` a while and notes how
    many were in flight at once."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.now = 0
        self.most = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/bids":
            self.now += 1
            self.most = max(self.most, self.now)
            try:
                await anyio.sleep(0.05)
                await self.app(scope, receive, send)
            finally:
                self.now -= 1
            return
        await self.app(scope, receive, send)


async def test_requests_in_flight_stay_within_the_cap_and_failures_give_their_slot_back():
    async with SandboxNetwork(manual_clock=True) as net:
        app = CountInFlight(net.app)
        transport = ASGIWebSocketTransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=net.base_url) as client,
            ConsoleBackend(
                api_key=API_KEY,
                http_client=client,
                max_concurrent_requests=2,
                retry=RetryPolicy(maximum_attempts=1),
            ) as backend,
        ):
            with anyio.fail_after(5):
                for _ in range(3):  # refused reads (an unknown deployment) free their slots
                    try:
                        await backend.get_deployment(999_999)
                    except NotFound:
                        pass
                async with anyio.create_task_group() as tg:
                    for dseq in range(1, 9):
                        tg.start_soon(backend.list_bids, dseq)
    assert app.most == 2
