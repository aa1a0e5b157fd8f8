"""Creating is not idempotent on Console: lost responses are recovered, never duplicated."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import TaskGroup
from httpx_ws.transport import ASGIWebSocketTransport

from minds371.errors import BudgetExceeded, MarketError
from minds371_akash import AkashIntegrationProvider, BidPolicy, Budget, PreparedDeployment
from minds371_akash._prepare import prepare_sdl
from minds371_akash.market import ConsoleBackend, RetryPolicy
from minds371_sandbox import SandboxNetwork

from .conftest import API_KEY, deployments_of, sdl, world

Scope = dict[str, Any]


class LoseCreateResponses:
    """An ASGI wrapper around the sandbox: the first ``count`` deployment creates are carried
    out, then answered with 504 (a gateway that timed out) or dropped (a read timeout)."""

    def __init__(self, app: Any, count: int, *, status: int | None = 504) -> None:
        self.app = app
        self.count = count
        self.status = status

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        is_create = scope["type"] == "http" and scope["method"] == "POST"
        if not (is_create and scope["path"] == "/v1/deployments" and self.count > 0):
            await self.app(scope, receive, send)
            return
        self.count -= 1

        async def swallow(message: Any) -> None:
            return None

        await self.app(scope, receive, swallow)  # done on the server ...
        if self.status is None:
            raise httpx.ReadTimeout("the response never came")
        body = json.dumps({"error": "GatewayTimeout", "message": "timeout", "code": "x"})
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})


@asynccontextmanager
async def lossy(
    count: int, status: int | None = 504
) -> AsyncIterator[tuple[SandboxNetwork, ConsoleBackend]]:
    async with SandboxNetwork(block_time=0.05) as net:
        app = LoseCreateResponses(net.app, count, status=status)
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
            async with ConsoleBackend(
                api_key=API_KEY, http_client=client, block_time=0.05
            ) as backend:
                backend.name = "sandbox"
                yield net, backend


@pytest.mark.parametrize("status", [504, 502, None])
async def test_lost_create_response_is_recovered_not_duplicated(status: int | None):
    async with lossy(1, status) as (net, backend):
        akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
        prepared = akash.prepare(sdl("web"))
        created = await akash.create(prepared)
        assert created.recovered
        deps = deployments_of(net, net.owner(API_KEY))
        assert [int(d["dseq"]) for d in deps] == [created.dseq]
        # the recovered deployment deploys normally with our canonical manifest
        result = await akash.resume(created.dseq, sdl("web"))
        assert result.leases[0].status is not None and result.leases[0].status.ready


async def test_existing_identical_deployment_is_not_adopted():
    async with lossy(0) as (net, backend):
        first = await AkashIntegrationProvider(backend).create(prepare("web"))
        # a second client, same key, same SDL, whose create response is lost
        async with lossy_client(net, 1) as second_backend:
            created = await AkashIntegrationProvider(second_backend).create(prepare("web"))
        assert created.recovered and created.dseq != first.dseq
        assert len(deployments_of(net, net.owner(API_KEY))) == 2


def prepare(name: str) -> PreparedDeployment:
    return prepare_sdl(sdl(name))


@asynccontextmanager
async def lossy_client(net: SandboxNetwork, count: int) -> AsyncIterator[ConsoleBackend]:
    transport = ASGIWebSocketTransport(app=LoseCreateResponses(net.app, count))
    async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
        async with ConsoleBackend(api_key=API_KEY, http_client=client, block_time=0.05) as backend:
            yield backend


async def test_non_retryable_create_failure_is_raised_at_once():
    async with world() as (net, backend):
        net.set_balance(net.owner(API_KEY), 0)
        akash = AkashIntegrationProvider(backend)
        with pytest.raises(MarketError) as info:
            await akash.create(akash.prepare(sdl("web")))
        assert info.value.details["status"] == 402
        assert deployments_of(net, net.owner(API_KEY)) == []


async def test_retries_give_up_after_the_policy_attempts():
    async with world() as (net, backend):
        net.set_faults(error_rate=1.0, error_phase="before", error_status=503)
        quick = ConsoleBackend(
            api_key=API_KEY,
            http_client=backend._client,
            retry=RetryPolicy(maximum_attempts=3),
        )
        with pytest.raises(MarketError) as info:
            await quick.list_bids(1)
        assert info.value.retryable
        net.set_faults()


async def test_update_and_deposit():
    async with world() as (_net, backend):
        akash = AkashIntegrationProvider(
            backend, policy=BidPolicy(enough_bids=2), budget=Budget(max_deposit=Decimal(2_000_000))
        )
        result = await akash.deploy(sdl("web"))
        before = (await akash.status(result.dseq)).escrow
        after = await akash.deposit(result.dseq, Decimal(1_000_000))
        assert before is not None and after.escrow is not None
        assert after.escrow.funds > before.funds
        with pytest.raises(BudgetExceeded):
            await akash.deposit(result.dseq, Decimal(5_000_000))
        before_hash = (await akash.status(result.dseq)).hash
        updated = await akash.update(result.dseq, sdl("web").replace("nginx:1.27", "nginx:1.28"))
        assert updated.active and updated.hash != before_hash


async def test_follow_logs_until_cancelled():
    async with world() as (_net, backend):
        akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
        result = await akash.deploy(sdl("web"))
        lines: list[str] = []

        def on_line(lease: Any, line: Any) -> None:
            lines.append(line.message)

        with anyio.move_on_after(1.5):
            await akash.stream_logs(result.dseq, on_line, tail=1)
        assert lines  # new lines kept arriving while following


async def test_a_deployment_another_client_made_before_the_create_is_not_adopted():
    # Another process on the same account (its own client, so nothing in this process's claims)
    # already runs the same SDL. Our create's response is lost: the recovery must take the
    # deployment that did not exist before the create, never the other client's.
    async with lossy(1) as (net, backend):
        transport = ASGIWebSocketTransport(app=net.app)
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as other:
            response = await other.post(
                "/v1/deployments",
                json={"data": {"sdl": sdl("web"), "deposit": 0.5}},  # Console requires one
                headers={"x-api-key": API_KEY},
            )
        assert response.status_code in (200, 201), response.text
        theirs = int(response.json()["data"]["dseq"])
        created = await AkashIntegrationProvider(backend).create(prepare("web"))
        assert created.recovered
        dseqs = sorted(int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY)))
        assert dseqs == [theirs, created.dseq]


async def test_concurrent_lost_creates_in_one_process_adopt_different_deployments():
    # Two creates of the same SDL at once, both responses lost: each recovery must take a
    # deployment of its own (the process-wide claims), never both the same one.
    async with lossy(2) as (net, backend):
        akash = AkashIntegrationProvider(backend)
        results: list[Any] = []

        async def create() -> None:
            results.append(await akash.create(prepare("web")))

        async with anyio.create_task_group() as tg:
            tg.start_soon(create)
            tg.start_soon(create)
        assert all(r.recovered for r in results)
        dseqs = sorted(int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY)))
        assert sorted(r.dseq for r in results) == dseqs
        assert len(set(dseqs)) == 2


class LoseSecondCreate(LoseCreateResponses):
    """Carries out every create but loses the response of the second one to arrive (a 504)."""

    def __init__(self, app: Any) -> None:
        super().__init__(app, 0)
        self.creates = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        is_create = scope["type"] == "http" and scope["method"] == "POST"
        if is_create and scope["path"] == "/v1/deployments":
            self.creates += 1
            self.count = 1 if self.creates == 2 else 0
        await super().__call__(scope, receive, send)


async def test_a_lost_create_never_adopts_the_deployment_a_concurrent_create_made():
    # Two creates of the same SDL share one listing; the first succeeds, the second's response
    # is lost. Both deployments are new to that listing: only the first create's claim keeps
    # the second from adopting it (and leaving its own deployment untracked).
    async with SandboxNetwork(block_time=0.05) as net:
        transport = ASGIWebSocketTransport(app=LoseSecondCreate(net.app))
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
            async with ConsoleBackend(
                api_key=API_KEY, http_client=client, block_time=0.05
            ) as backend:
                akash = AkashIntegrationProvider(backend)
                results: list[Any] = []

                async def create() -> None:
                    results.append(await akash.create(prepare("web")))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(create)
                    tg.start_soon(create)
        assert sorted(r.recovered for r in results) == [False, True]
        dseqs = sorted(int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY)))
        assert sorted(r.dseq for r in results) == dseqs
        assert len(set(dseqs)) == 2


class ScriptedCreates:
    """An ASGI wrapper around the sandbox that treats each deployment create, in the order they
    arrive, as its script says: ``"hold"`` carries it out and holds the response until
    ``release`` fires; ``"lose"`` carries it out and answers 504; ``"late"`` times the client out
    at once and carries the create out ``late_by`` seconds later (a server still working);
    anything else (or past the script's end) passes through."""

    def __init__(self, app: Any, script: list[str], tg: TaskGroup, late_by: float = 0.0) -> None:
        self.app = app
        self.script = script
        self.tg = tg
        self.late_by = late_by
        self.release = anyio.Event()
        self.lost = anyio.Event()
        self.creates = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        is_create = scope["type"] == "http" and scope["method"] == "POST"
        if not (is_create and scope["path"] == "/v1/deployments"):
            await self.app(scope, receive, send)
            return
        self.creates += 1
        step = self.script[self.creates - 1] if self.creates <= len(self.script) else "pass"
        if step == "hold":
            await self.app(scope, receive, self._held(send))
        elif step == "lose":
            await self.app(scope, receive, swallow)
            body = json.dumps({"error": "GatewayTimeout", "message": "timeout", "code": "x"})
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": body.encode()})
            self.lost.set()
        elif step == "late":
            request = await read_body(receive)

            async def later() -> None:
                await anyio.sleep(self.late_by)
                await self.app(scope, replay(request), swallow)

            self.tg.start_soon(later)
            raise httpx.ReadTimeout("the response never came")
        else:
            await self.app(scope, receive, send)

    def _held(self, send: Any) -> Any:
        async def held(message: Any) -> None:
            if message["type"] == "http.response.start":
                await self.release.wait()
            await send(message)

        return held


async def swallow(message: Any) -> None:
    return None


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def replay(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@asynccontextmanager
async def scripted(
    script: list[str], late_by: float = 0.0
) -> AsyncIterator[tuple[SandboxNetwork, ScriptedCreates, AkashIntegrationProvider]]:
    async with SandboxNetwork(block_time=0.05) as net, anyio.create_task_group() as tg:
        app = ScriptedCreates(net.app, script, tg, late_by)
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
            async with ConsoleBackend(
                api_key=API_KEY, http_client=client, block_time=0.05
            ) as backend:
                yield net, app, AkashIntegrationProvider(backend)


async def test_after_a_timeout_the_recovery_looks_again_blocks_later():
    # The server finishes the create a block after the client timed out: the first look
    # finds nothing, a later one finds it; creating again would leave two deployments.
    async with scripted(["late"], late_by=0.05) as (net, _app, akash):
        created = await akash.create(prepare("web"))
        assert created.recovered
        dseqs = [int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY))]
        assert dseqs == [created.dseq]


async def test_a_recovery_waits_for_a_create_of_the_same_version_still_in_flight():
    # The first create is done on the server but its response is slow; the second is lost.
    # Until the first create has claimed its deployment, the recovery cannot tell the two
    # apart, so it must wait for it rather than adopt it.
    async with scripted(["hold", "lose"]) as (net, app, akash):
        results: list[Any] = []

        async def create() -> None:
            results.append(await akash.create(prepare("web")))

        async with anyio.create_task_group() as tg:
            tg.start_soon(create)
            tg.start_soon(create)
            with anyio.fail_after(10):
                await app.lost.wait()
            await anyio.sleep(0.2)  # the lost create's recovery is under way meanwhile
            app.release.set()
        assert sorted(r.recovered for r in results) == [False, True]
        dseqs = sorted(int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY)))
        assert sorted(r.dseq for r in results) == dseqs
        assert len(set(dseqs)) == 2


class FailListingsAfterLoss(LoseCreateResponses):
    """Loses the first create's response (a read timeout), then answers the next ``failures``
    account listings with 503: the recovery's first look fails outright."""

    def __init__(self, app: Any, failures: int) -> None:
        super().__init__(app, 1, status=None)
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        listing = scope["type"] == "http" and (scope["method"], scope["path"]) == (
            "GET",
            "/v1/deployments",
        )
        if listing and self.count == 0 and self.failures > 0:
            self.failures -= 1
            body = b'{"error":"ServiceUnavailableError","message":"down","code":"x"}'
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await super().__call__(scope, receive, send)


async def test_a_listing_that_fails_during_a_recovery_is_tried_again_at_the_next_look():
    async with SandboxNetwork(block_time=0.05) as net:
        app = FailListingsAfterLoss(net.app, RetryPolicy().maximum_attempts)
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=net.base_url) as client:
            async with ConsoleBackend(
                api_key=API_KEY, http_client=client, block_time=0.05
            ) as backend:
                created = await AkashIntegrationProvider(backend).create(prepare("web"))
        assert app.failures == 0  # the first look's listing did fail
        assert created.recovered
        dseqs = [int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY))]
        assert dseqs == [created.dseq]


class CountListings:
    """Counts ``GET /v1/deployments`` (the account listing) on its way to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.listings = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (scope["method"], scope["path"]) == (
            "GET",
            "/v1/deployments",
        ):
            self.listings += 1
        await self.app(scope, receive, send)


@pytest.mark.parametrize("unique", [False, True])
async def test_a_create_of_a_unique_version_lists_nothing_first_and_is_still_recovered(
    unique: bool,
):
    async with SandboxNetwork(block_time=0.05) as net:
        counted = CountListings(LoseCreateResponses(net.app, 1))
        transport = ASGIWebSocketTransport(app=counted)
        async with (
            httpx.AsyncClient(transport=transport, base_url=net.base_url) as client,
            ConsoleBackend(api_key=API_KEY, http_client=client, block_time=0.05) as backend,
        ):
            akash = AkashIntegrationProvider(backend, unique_versions=unique)
            created = await akash.create(prepare("web"))
        assert created.recovered
        assert [int(d["dseq"]) for d in deployments_of(net, net.owner(API_KEY))] == [created.dseq]
        # one listing to recover the lost create; without the hint, one more before it
        assert counted.listings == (1 if unique else 2)
