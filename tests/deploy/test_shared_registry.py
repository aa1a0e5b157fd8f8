"""The runtime lends its deployment tasks one registry, opened once, instead of one per use."""

from __future__ import annotations

from typing import Any

import anyio

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from minds371_deploy._plugin import agent_for
from minds371_deploy.registries import RegistryPool
from minds371_registry import BlockchainRegistryProvider
from tests.deploy.conftest import Sandbox, web_request


async def test_a_runtimes_tasks_share_one_registry_opened_once(sandbox: Sandbox) -> None:
    opened: list[Any] = []

    def counting() -> BlockchainRegistryProvider:
        provider = BlockchainRegistryProvider.default()
        opened.append(provider)
        return provider

    async with AgentRuntime(store=MemoryStateStore(), concurrency=3) as runtime:
        agent_for(runtime).registries.factory = counting
        with anyio.fail_after(90):
            handles = [
                await runtime.dispatch(
                    Task(agent_type=AgentType.DEPLOYMENT, payload=web_request(f"shared-{n}"))
                )
                for n in range(3)
            ]
            results = [await handle.result() for handle in handles]
        assert [r.status for r in results] == [TaskStatus.COMPLETED] * 3, results
        # Each task checked the registry and published a record: all through one provider.
        assert len(opened) == 1
        for n in range(3):
            assert await opened[0].resolve(f"shared-{n}") is not None


async def test_without_a_serving_runtime_each_use_opens_its_own() -> None:
    opened: list[BlockchainRegistryProvider] = []

    def counting() -> BlockchainRegistryProvider:
        opened.append(BlockchainRegistryProvider.default())
        return opened[-1]

    pool = RegistryPool(counting)
    async with pool.open() as first:
        pass
    async with pool.open() as second:
        pass
    assert first is not second
    assert opened == [first, second]
