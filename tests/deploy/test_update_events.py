"""An in-place update, as a follower of the task sees it: updated once, ready once.

The update waits until the deployment serves the new manifest before the task takes it over;
the task then goes on from that ready deployment instead of resuming it (which would send the
manifest again and report every service ready a second time).
"""

from __future__ import annotations

from collections import Counter

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from tests.deploy.conftest import Sandbox, web_request


async def _events(runtime: AgentRuntime, payload: dict[str, object]) -> tuple[Task, list[str]]:
    task = Task(agent_type=AgentType.DEPLOYMENT, payload=payload)
    with anyio.fail_after(60):
        handle = await runtime.dispatch(task)
        result = await handle.result()
        types = [event.type async for event in handle.events()]
    assert result.status is TaskStatus.COMPLETED, result.error
    return task, types


async def test_an_in_place_update_sends_its_manifest_once_and_is_ready_once(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    first = web_request("updated-once")
    changed = web_request("updated-once")
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "hello again"}
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
