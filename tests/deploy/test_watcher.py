from __future__ import annotations

import time

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_deploy._plugin import agent_for
from minds371_deploy.watcher import DeploymentWatcher
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
        assert await watcher.check_once() == []  # healthy and young: nothing to do
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
