"""Idle termination on the sandbox (served on 127.0.0.1, and embedded in one test).

The watcher reads the deployment's request count through its endpoint (the sandbox's pretend
workload serves ``/metrics``) and closes it once the count has not moved for ``idle.after``; the
tests send requests to the endpoint to make it busy, and drive the watcher's clock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_deploy._plugin import agent_for
from minds371_deploy.lifetime import IDLE_SEEN
from minds371_deploy.listing import deployment_rows
from minds371_deploy.saga import CLOSED, REPLICA_CLOSED
from minds371_deploy.watcher import DeploymentWatcher, WatchAction
from minds371_registry import BlockchainRegistryProvider
from tests.deploy.conftest import Sandbox, web_request

METRIC_PROBE = "/metrics#http_requests_total"
AFTER = 600


@dataclass
class Deployed:
    runtime: AgentRuntime
    sandbox: Sandbox
    dseq: int
    endpoints: list[str]
    start: float

    def watcher(self, offset: float) -> DeploymentWatcher:
        """A new watcher (as after a restart) whose clock reads ``start + offset``."""
        now = self.start + offset
        return DeploymentWatcher(agent_for(self.runtime), self.runtime.store, clock=lambda: now)

    async def pass_at(self, watcher: DeploymentWatcher, offset: float) -> list[WatchAction]:
        """One pass of ``watcher`` at ``start + offset``; the funding actions left out."""
        watcher.clock = lambda: self.start + offset
        with anyio.fail_after(30):
            actions = await watcher.check_once()
        return [a for a in actions if a.kind not in ("auto_top_up", "top_up")]

    def use(self, times: int = 1, endpoint: int = 0) -> None:
        """Send requests to the service through one of its endpoints (its ingress host)."""
        host = self.endpoints[endpoint].removeprefix("http://")
        for _ in range(times):
            response = httpx.get(self.sandbox.url + "/", headers={"host": host}, timeout=10)
            assert response.status_code == 200, response.text

    def is_open(self) -> bool:
        return self.dseq in self.sandbox.active_dseqs()

    async def steps(self, name: str) -> list[dict[str, Any]]:
        (record,) = await self.runtime.store.list_tasks()
        return [s.data for s in await self.runtime.store.steps(record.task.id) if s.name == name]


@asynccontextmanager
async def _deployed(
    sandbox: Sandbox, name: str = "quiet", probe: str = METRIC_PROBE, **more: Any
) -> AsyncIterator[Deployed]:
    """A deployment of ``web_request(name)`` with an idle probe, closed after if still open."""
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        request = web_request(name, idle={"probe": probe, "after": f"{AFTER // 60}m"}, **more)
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", request)
        endpoints = list(result["endpoints"])
        deployed = Deployed(runtime, sandbox, int(result["dseq"]), endpoints, time.time())
        try:
            yield deployed
        finally:
            for dseq in {deployed.dseq, *(int(r["dseq"]) for r in result.get("replicas", []))}:
                if dseq in sandbox.active_dseqs():
                    await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq})


@pytest.fixture(autouse=True)
def _served(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)


async def test_an_idle_deployment_is_closed_after_its_idle_time_and_not_before(
    sandbox: Sandbox,
) -> None:
    async with _deployed(sandbox) as quiet:
        watcher = quiet.watcher(0)
        assert await quiet.pass_at(watcher, 0) == []  # the first count read starts the timer
        assert await quiet.pass_at(watcher, AFTER - 1) == []
        assert quiet.is_open()
        (action,) = await quiet.pass_at(watcher, AFTER)
        assert (action.kind, action.dseq) == ("idle", quiet.dseq)
        assert "without activity" in action.detail
        assert not quiet.is_open()
        (closed,) = await quiet.steps(CLOSED)
        assert (closed["dseq"], closed["reason"]) == (quiet.dseq, "idle")
        rows = await deployment_rows(quiet.runtime.store, include_closed=True)
        assert [(r.dseq, r.state, r.note) for r in rows] == [
            (quiet.dseq, "closed", "closed: its idle probe showed no activity for its idle time")
        ]
        async with BlockchainRegistryProvider.default(read_only=True) as registry:
            assert (await registry.resolve("quiet")).retired  # the tombstone
        assert await quiet.pass_at(watcher, AFTER + 60) == []  # no longer watched


async def test_activity_restarts_the_idle_timer(sandbox: Sandbox) -> None:
    async with _deployed(sandbox) as quiet:
        watcher = quiet.watcher(0)
        assert await quiet.pass_at(watcher, 0) == []
        quiet.use(3)
        assert await quiet.pass_at(watcher, AFTER - 100) == []  # the count moved: timer restarts
        assert await quiet.pass_at(watcher, AFTER + 100) == []  # 200 s quiet, not 700
        assert quiet.is_open()
        assert [a.kind for a in await quiet.pass_at(watcher, 2 * AFTER - 100)] == ["idle"]
        assert not quiet.is_open()


async def test_a_restarted_watcher_keeps_the_idle_timer(sandbox: Sandbox) -> None:
    async with _deployed(sandbox) as quiet:
        assert await quiet.pass_at(quiet.watcher(0), 0) == []
        (seen,) = await quiet.steps(IDLE_SEEN)
        assert (seen["dseq"], seen["since"]) == (quiet.dseq, quiet.start)
        # A new watcher (a restarted process) reads the journaled timer: without it, this pass
        # would read its first count and start a new one.
        assert [a.kind for a in await quiet.pass_at(quiet.watcher(AFTER), AFTER)] == ["idle"]
        assert not quiet.is_open()


async def test_a_restarted_watcher_counts_what_changed_since_the_journal_as_activity(
    sandbox: Sandbox,
) -> None:
    async with _deployed(sandbox) as quiet:
        assert await quiet.pass_at(quiet.watcher(0), 0) == []
        quiet.use()  # while no watcher runs
        restarted = quiet.watcher(AFTER)
        assert await quiet.pass_at(restarted, AFTER) == []  # not the journal's count: activity
        assert quiet.is_open()
        assert [a.kind for a in await quiet.pass_at(restarted, 2 * AFTER)] == ["idle"]


async def test_traffic_to_any_replica_keeps_it_and_idleness_closes_every_replica(
    sandbox: Sandbox,
) -> None:
    async with _deployed(sandbox, "pair", redundancy=2) as pair:
        assert len(pair.endpoints) == 2  # one per replica, each its own deployment
        watcher = pair.watcher(0)
        assert await pair.pass_at(watcher, 0) == []
        pair.use(endpoint=1)  # only the other replica is used
        assert await pair.pass_at(watcher, AFTER) == []
        assert pair.is_open()
        (action,) = await pair.pass_at(watcher, 2 * AFTER)
        assert action.kind == "idle"
        (closed,) = await pair.steps(REPLICA_CLOSED)
        assert closed["reason"] == "idle"
        assert not pair.is_open()
        assert int(closed["dseq"]) not in sandbox.active_dseqs()


async def test_a_probe_that_fails_never_closes_the_deployment(sandbox: Sandbox) -> None:
    # The pretend workload serves a page at /requests, not a count: the probe cannot read one.
    async with _deployed(sandbox, "unreadable", probe="/requests") as deployed:
        watcher = deployed.watcher(0)
        for offset in (0, AFTER, 10 * AFTER):
            (action,) = await deployed.pass_at(watcher, offset)
            assert action.kind == "idle_probe_failed"
            assert "did not answer a request count" in action.detail
        assert deployed.is_open()
        assert await deployed.steps(IDLE_SEEN) == []


async def test_an_unreachable_provider_is_not_taken_for_idleness(sandbox: Sandbox) -> None:
    async with _deployed(sandbox, "unreachable") as deployed:
        watcher = deployed.watcher(0)
        assert await deployed.pass_at(watcher, 0) == []
        (provider,) = {
            lease["provider"]
            for d in sandbox.deployments()
            if int(d["dseq"]) == deployed.dseq
            for lease in d["leases"]
        }
        sandbox.admin("POST", f"/sandbox/providers/{provider}/offline")
        try:
            for offset in (AFTER, 10 * AFTER):
                actions = await deployed.pass_at(watcher, offset)
                assert "idle_probe_failed" in [a.kind for a in actions], actions
                assert "idle" not in [a.kind for a in actions]
            assert deployed.is_open()
        finally:
            sandbox.admin("POST", f"/sandbox/providers/{provider}/online")


async def test_idle_termination_on_the_embedded_sandbox(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No served sandbox: the runtime's own, in process; the probe goes through its backend.
    monkeypatch.delenv("MINDS371_SANDBOX_URL")
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        request = web_request("inproc", idle={"probe": METRIC_PROBE, "after": AFTER})
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", request)
        dseq, start = int(result["dseq"]), time.time()
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: start)
        with anyio.fail_after(30):
            assert [a.kind for a in await watcher.check_once() if a.kind != "auto_top_up"] == []
            watcher.clock = lambda: start + AFTER
            assert [a.kind for a in await watcher.check_once()] == ["idle"]
            status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", {"dseq": dseq})
        assert status["state"] == "closed"
