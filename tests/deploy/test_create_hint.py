"""The agent tells its provider that a task's SDL version is its own (the create skips the
account listing it would otherwise take first; see ``MarketBackend.create_deployment``)."""

from __future__ import annotations

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from minds371_deploy._marker import TASK_ENV
from minds371_deploy._plugin import agent_for
from tests.deploy.conftest import Sandbox, web_request


async def test_a_task_creates_with_its_version_marked_unique(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        agent = agent_for(runtime)
        task = Task(agent_type=AgentType.DEPLOYMENT, payload=web_request("hinted"))
        seen: list[tuple[bool, bool]] = []
        with anyio.fail_after(60):
            handle = await runtime.dispatch(task)
            async for event in handle.events():
                if event.type == "deployment.created":
                    run = agent._runs[task.id]
                    # the hint holds only because the SDL carries this task's own marker
                    seen.append((run.akash.unique_versions, f"{TASK_ENV}={task.id}" in run.sdl))
                    break
            result = await handle.result()
    assert result.status is TaskStatus.COMPLETED
    assert seen == [(True, True)]
