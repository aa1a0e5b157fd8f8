"""An in-place update, as a follower of the task sees it: updated once, ready once.

The update waits until the deployment serves the new manifest before the task takes it over;
the task then goes on from that ready deployment instead of resuming it (which would send the
manifest again and report every service ready a second time).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskResult, TaskStatus
from tests.deploy.conftest import Sandbox, web_request


def _and_changed_env(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request and the same with another env: an update that can be made in place."""
    changed = web_request(name)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "hello again"}
    return web_request(name), changed


async def _events(
    runtime: AgentRuntime, payload: dict[str, object]
) -> tuple[TaskResult, list[str]]:
    task = Task(agent_type=AgentType.DEPLOYMENT, payload=payload)
    with anyio.fail_after(60):
        handle = await runtime.dispatch(task)
        result = await handle.result()
        types = [event.type async for event in handle.events()]
    assert result.status is TaskStatus.COMPLETED, result.error
    return result, types


async def test_an_in_place_update_sends_its_manifest_once_and_is_ready_once(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    first, changed = _and_changed_env("updated-once")
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        _, created = await _events(runtime, first)
        _, updated = await _events(runtime, changed)
    assert Counter(created)["service.ready"] == 1
    seen = Counter(updated)
    assert seen["deployment.updated"] == 1
    assert seen["service.ready"] == 1  # one service, ready once
    assert seen["deployment.ready"] == 1
    assert seen["manifest.sent"] == 0  # the update itself carried it
    assert seen["deployment.resuming"] == 0
    assert seen["deployment.created"] == 0


async def test_an_in_place_update_cancelled_mid_way_puts_the_previous_manifest_back(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C while the updated deployment comes up: the service ran before the update, so it is
    # neither closed nor left on a manifest nobody asked for any more.
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    first, changed = _and_changed_env("cancelled-update")
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        deployed, _ = await _events(runtime, first)
        dseq = int(deployed.output["dseq"])
        (before,) = [d["hash"] for d in sandbox.deployments() if int(d["dseq"]) == dseq]
        with anyio.fail_after(120):
            handle = await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=changed))
            async for event in handle.events():
                if event.type == "deployment.updated":
                    await handle.cancel()
                    break
            result = await handle.result()
            types = [event.type async for event in handle.events()]
    assert result.status is TaskStatus.CANCELLED
    assert "deployment.rolled_back" in types
    (after,) = [d["hash"] for d in sandbox.deployments() if int(d["dseq"]) == dseq]
    assert after == before
    assert dseq in sandbox.active_dseqs()


async def test_a_redundant_service_cancelled_while_replica_2_updates_gets_both_back(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replica 1 is updated and ready; Ctrl-C comes while replica 2's update comes up (not yet
    # journaled as this task's): each goes back to its previous manifest, neither is closed.
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    first, changed = _and_changed_env("cancelled-pair")
    first["redundancy"] = changed["redundancy"] = 2
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        deployed, _ = await _events(runtime, first)
        (replica,) = deployed.output["replicas"]
        dseqs = {int(deployed.output["dseq"]), int(replica["dseq"])}
        before = {
            int(d["dseq"]): d["hash"] for d in sandbox.deployments() if int(d["dseq"]) in dseqs
        }
        with anyio.fail_after(120):
            handle = await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=changed))
            async for event in handle.events():
                if event.type == "deployment.updated" and event.data["dseq"] == int(
                    replica["dseq"]
                ):
                    await handle.cancel()
                    break
            result = await handle.result()
            types = [event.type async for event in handle.events()]
    assert result.status is TaskStatus.CANCELLED
    assert Counter(types)["deployment.rolled_back"] == 2
    after = {int(d["dseq"]): d["hash"] for d in sandbox.deployments() if int(d["dseq"]) in dseqs}
    assert after == before
    assert dseqs <= sandbox.active_dseqs()
