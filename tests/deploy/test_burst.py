"""Many deployment tasks dispatched at once to one runtime, on a served sandbox.

An agent framework hands the runtime work in bursts. Every task must deploy exactly once and
register its service, though all of them start on a fresh state directory together (one new
registry ledger and development key for all) and share the runtime's market backend.
"""

from __future__ import annotations

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from minds371_registry import BlockchainRegistryProvider
from tests.deploy.conftest import Sandbox, web_request

TASKS = 20


async def test_a_burst_of_tasks_each_deploys_once_and_registers(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    before = sandbox.active_dseqs()
    async with AgentRuntime(store=MemoryStateStore(), concurrency=TASKS) as runtime:
        with anyio.fail_after(120):
            handles = [
                await runtime.dispatch(
                    Task(agent_type=AgentType.DEPLOYMENT, payload=web_request(f"burst-{i}"))
                )
                for i in range(TASKS)
            ]
            results = [await handle.result() for handle in handles]
        failed = [r.error for r in results if r.status is not TaskStatus.COMPLETED]
        assert not failed
        dseqs = [int(r.output["dseq"]) for r in results if r.output]
        assert len(set(dseqs)) == TASKS
        assert sandbox.active_dseqs() - before == set(dseqs)
        async with BlockchainRegistryProvider.default(read_only=True) as registry:
            for i, result in enumerate(results):
                assert result.output is not None
                record = await registry.resolve(f"burst-{i}")
                assert record.record_id == result.output["registry"]["record_id"]
                assert record.record.dseq == dseqs[i]
        found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "burst-0"})
        assert [e["url"] for e in found["endpoints"]] == results[0].output["endpoints"]
