from __future__ import annotations

import time

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskEvent, TaskStatus
from minds371._results import failed_result
from minds371_deploy._plugin import agent_for
from minds371_deploy.saga import CREATE_INTENT, CREATED
from minds371_deploy.update import PLANNED
from minds371_deploy.watcher import RELET, DeploymentWatcher
from tests.deploy.conftest import Sandbox, web_request


async def test_the_watcher_closes_a_deployment_after_its_ttl(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("brief", ttl=600))
        dseq = int(result["dseq"])
        agent = agent_for(runtime)
        now = time.time()
        watcher = DeploymentWatcher(agent, runtime.store, clock=lambda: now)
        # healthy and young: only Console's auto top-up is switched on, once
        assert [(a.kind, a.dseq) for a in await watcher.check_once()] == [("auto_top_up", dseq)]
        assert await watcher.check_once() == []
        later = DeploymentWatcher(agent, runtime.store, clock=lambda: now + 601)
        actions = await later.check_once()
        assert [(a.kind, a.dseq) for a in actions] == [("expired", dseq)]
        assert dseq not in sandbox.active_dseqs()
        assert await later.check_once() == []  # closed deployments are no longer watched


async def test_the_watcher_notices_a_deployment_closed_elsewhere(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("gone"))
            await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"])})
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store)
        actions = await watcher.check_once()
    assert [a.kind for a in actions] == ["closed"]


async def test_a_deployment_closed_once_is_not_looked_at_again(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing reopens a completed task's closed deployment (a new deploy or an update is a new
    # task): a watcher reads that journal once, not on every pass, since a long-lived home holds
    # thousands of them. A journal made to say otherwise shows which watcher still reads it.
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("once"))
            await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"])})
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store)
        assert [a.kind for a in await watcher.check_once()] == ["closed"]
        assert watcher.checked == 1
        assert await watcher.check_once() == []  # its journal now says closed
        (record,) = await runtime.store.list_tasks()
        await runtime.store.record_step(record.task.id, CREATE_INTENT, {"version": "v2"})
        await runtime.store.record_step(record.task.id, CREATED, {"dseq": int(result["dseq"])})
        assert await watcher.check_once() == []
        assert watcher.checked == 0
        fresh = DeploymentWatcher(agent_for(runtime), runtime.store)
        assert [a.kind for a in await fresh.check_once()] == ["closed"]


async def test_a_pass_with_no_eligible_provider_left_reports_waiting_and_retries_next_pass(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("stranded"))
        (lease,) = result["leases"]
        others = [
            p["address"]
            for p in sandbox.admin("GET", "/sandbox/info")["providers"]
            if p["online"] and p["address"] != lease["provider"]
        ]
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, relet_bid_wait=1.0)
        # The deploy's bid timeout (300 s) stays what it was; only the watcher's wait is bounded.
        assert agent_for(runtime).config.bid_timeout == 300 and watcher.relet_bid_wait == 1.0
        try:
            for address in others:
                sandbox.admin("POST", f"/sandbox/providers/{address}/offline")
            sandbox.admin(
                "POST",
                "/sandbox/leases/close",
                json={"owner": result["owner"], "dseq": int(result["dseq"]), "gseq": 1},
            )
            with anyio.fail_after(30):
                actions = [a for a in await watcher.check_once() if a.kind != "auto_top_up"]
            assert [(a.kind, a.data["gseq"]) for a in actions] == [("waiting", 1)]
            assert "tried again next pass" in actions[0].detail
        finally:
            for address in others:
                sandbox.admin("POST", f"/sandbox/providers/{address}/online")
        with anyio.fail_after(60):
            actions = [a for a in await watcher.check_once() if a.kind != "auto_top_up"]
        assert [(a.kind, a.data["gseq"]) for a in actions] == [("relet", 1)]
        (task,) = await runtime.store.list_tasks()
        relets = [s for s in await runtime.store.steps(task.task.id) if s.name == RELET]
        assert len(relets) == 1
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"])})


async def test_a_ttl_that_runs_out_during_an_in_place_update_waits_for_the_update(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The update takes the deployment over with a lifetime of its own: closing it for the old
    # request's ttl meanwhile would close the service the update is about to record.
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("kept", ttl=600))
        dseq = int(result["dseq"])
        (first,) = await runtime.store.list_tasks()
        update = Task(agent_type=AgentType.DEPLOYMENT, payload=web_request("kept", ttl=600))
        await runtime.store.create_task(update)  # its plan is its first step
        plan = {"kind": "in_place", "previous_task": first.task.id, "reason": "env changed"}
        await runtime.store.record_step(update.id, PLANNED, {**plan, "previous_dseq": dseq})
        now = time.time()
        later = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: now + 601)
        actions = [a for a in await later.check_once() if a.kind != "auto_top_up"]
        assert [(a.kind, a.dseq) for a in actions] == [("waiting", dseq)]
        assert dseq in sandbox.active_dseqs()
        # The update ended without taking it over (it failed and gave it back): the ttl holds.
        event = TaskEvent(task_id=update.id, seq=1, type="task.failed", status=TaskStatus.FAILED)
        await runtime.store.finish(failed_result(update.id, RuntimeError("no record")), event)
        actions = await later.check_once()
        assert [(a.kind, a.dseq) for a in actions] == [("expired", dseq)]
        assert dseq not in sandbox.active_dseqs()
