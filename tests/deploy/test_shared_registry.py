"""The runtime lends its deployment tasks one registry, opened once, instead of one per use."""

from __future__ import annotations

from typing import Any

import anyio

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from minds371_deploy._plugin import agent_for
from minds371_deploy.backends import BackendPool, DeployConfig
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


async def test_a_task_that_asks_before_the_backend_service_runs_waits_for_the_shared_one(
    sandbox: Sandbox, tmp_path: Any
) -> None:
    # The runtime starts its workers (and recovered tasks) before its services first run: a
    # task asking for the backend in between must get the one the service opens, not its own
    # (for the embedded sandbox, its own would be a second world on the same state file).
    pool = BackendPool(DeployConfig(state_dir=tmp_path, sandbox_url=sandbox.url))
    pool.service()  # what the runtime calls when it collects its services
    lent: list[Any] = []
    done = anyio.Event()

    async def use() -> None:
        async with pool.backend("sandbox") as backend:
            lent.append(backend)
            if len(lent) == 2:
                done.set()
            await done.wait()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(use)
            await anyio.wait_all_tasks_blocked()  # the early task asked and is waiting
            group.start_soon(pool.serve)
            group.start_soon(use)
            await done.wait()
            group.cancel_scope.cancel()
    assert lent[0] is lent[1]
