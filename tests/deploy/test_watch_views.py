"""The watcher's deployment reads: one account listing per pass, full reads only when due."""

from __future__ import annotations

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_akash import AkashIntegrationProvider
from minds371_deploy._plugin import agent_for
from minds371_deploy._views import DeploymentViews
from minds371_deploy.watcher import DeploymentWatcher
from tests.deploy.conftest import Sandbox, web_request


async def test_a_quiet_pass_reads_no_deployment_in_full_and_a_closed_lease_is_still_relet(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            results = [
                await runtime.execute_action("DEPLOY_TO_AKASH", web_request(name))
                for name in ("quiet-a", "quiet-b")
            ]
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, relet_bid_wait=10.0)
        await watcher.check_once()
        assert (watcher.views.full_reads, watcher.views.listings) == (2, 0)
        assert await watcher.check_once() == []
        # the second pass listed the account once and read nobody in full
        assert (watcher.views.full_reads, watcher.views.listings) == (2, 1)
        # a lease the provider closed shows in the listing: that deployment is read in full
        # and re-leased at once, without waiting for its full read to age
        first = results[0]
        sandbox.admin(
            "POST",
            "/sandbox/leases/close",
            json={"owner": first["owner"], "dseq": int(first["dseq"]), "gseq": 1},
        )
        with anyio.fail_after(30):
            actions = await watcher.check_once()
        assert [(a.kind, a.dseq) for a in actions if a.kind == "relet"] == [
            ("relet", int(first["dseq"]))
        ]
        assert watcher.views.full_reads == 3


async def test_a_full_read_stands_until_it_ages_and_an_unreachable_lease_is_read_every_time(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("aging"))
        dseq, (lease,) = int(result["dseq"]), result["leases"]
        now = [0.0]
        views = DeploymentViews(lambda: now[0], status_every=30.0)
        async with agent_for(runtime).backends.backend("sandbox") as backend:
            akash = AkashIntegrationProvider(backend)
            first = await views.view("sandbox", akash, dseq)
            assert first.active_leases[0].status is not None
            sandbox.admin("POST", f"/sandbox/providers/{lease['provider']}/offline")
            try:
                now[0] = 29.0  # the full read stands: same leases, every one with a status
                kept = await views.view("sandbox", akash, dseq)
                assert views.full_reads == 1 and kept.active_leases[0].status is not None
                assert kept.escrow is not None  # the listing's escrow, current
                now[0] = 30.0  # aged: read in full, and the provider's silence shows
                fresh = await views.view("sandbox", akash, dseq)
                assert views.full_reads == 2 and fresh.active_leases[0].status is None
                views.new_pass()
                now[0] = 31.0  # a lease without status is read in full on every pass
                await views.view("sandbox", akash, dseq)
                assert views.full_reads == 3
            finally:
                sandbox.admin("POST", f"/sandbox/providers/{lease['provider']}/online")


async def test_a_watched_tasks_request_is_validated_once_and_let_go_when_it_is_closed(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("kept-request"))
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, relet_bid_wait=10.0)
        await watcher.check_once()
        (task_id,) = watcher._requests
        first = watcher._requests[task_id]
        await watcher.check_once()
        assert watcher._requests[task_id] is first  # the same request: not validated again
        assert first.name == "kept-request" and first.task_id == task_id
        await runtime.execute_action(
            "CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"]), "network": "sandbox"}
        )
        await watcher.check_once()  # finds it closed, and journals that
        await watcher.check_once()
        assert watcher._requests == {}  # no longer watched: its request goes
