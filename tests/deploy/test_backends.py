"""The runtime lends its tasks one market backend per network, opened when first needed."""

from __future__ import annotations

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, Task, TaskStatus
from tests.deploy.conftest import Sandbox, web_request


async def test_a_backend_that_failed_to_open_is_opened_again_for_the_next_task(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The served sandbox speaks the Console API, so it stands in for Console here.
    monkeypatch.setenv("MINDS371_CONSOLE_URL", sandbox.url)
    request = {**web_request("via-console"), "network": "console"}
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            keyless = await (
                await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=request))
            ).result()
            assert keyless.status is TaskStatus.FAILED
            assert keyless.error is not None and keyless.error.type == "ConfigurationError"
            assert "MINDS371_CONSOLE_API_KEY" in keyless.error.message

            sandbox.add_api_key("a-key-set-later")
            monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", "a-key-set-later")
            keyed = await (
                await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=request))
            ).result()
    assert keyed.status is TaskStatus.COMPLETED, keyed.error
    assert keyed.output is not None
    assert int(keyed.output["dseq"]) in sandbox.active_dseqs()


async def test_every_task_waiting_on_a_failed_open_gets_its_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_CONSOLE_URL", sandbox.url)
    request = {**web_request("keyless"), "network": "console"}
    async with AgentRuntime(store=MemoryStateStore(), concurrency=3) as runtime:
        with anyio.fail_after(60):
            handles = [
                await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=request))
                for _ in range(3)
            ]
            results = [await handle.result() for handle in handles]
    for result in results:
        assert result.status is TaskStatus.FAILED
        assert result.error is not None and "MINDS371_CONSOLE_API_KEY" in result.error.message
