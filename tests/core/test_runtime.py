from __future__ import annotations

from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore, Task, TaskStatus
from minds371.errors import ConfigurationError, DuplicateRegistration, ProviderError
from tests.core.agents import EchoAgent, FailingAgent, GateAgent


def make_runtime(*agents: Any, concurrency: int = 4) -> AgentRuntime:
    runtime = AgentRuntime(store=MemoryStateStore(), concurrency=concurrency, load_plugins=False)
    for agent in agents:
        runtime.register_agent(agent)
    return runtime


async def test_dispatch_runs_the_agent_and_returns_its_output() -> None:
    async with make_runtime(EchoAgent()) as runtime:
        handle = await runtime.dispatch(Task(agent_type="echo", payload={"x": 1}))
        result = await handle.result()
    assert result.status is TaskStatus.COMPLETED
    assert result.output == {"echo": {"x": 1}}
    assert result.error is None


async def test_concurrency_limit_is_honoured() -> None:
    gate = GateAgent()
    async with make_runtime(gate, concurrency=3) as runtime:
        handles = [await runtime.dispatch(Task(agent_type="gate")) for _ in range(10)]
        with anyio.fail_after(5):
            while gate.started < 3:
                await anyio.sleep(0.01)
        await anyio.sleep(0.05)  # give a fourth worker every chance to start, were there one
        assert gate.running == 3
        gate.gate.set()
        results = [await h.result() for h in handles]
    assert gate.peak == 3
    assert all(r.status is TaskStatus.COMPLETED for r in results)


async def test_cancelling_a_running_task_cancels_its_agent() -> None:
    gate = GateAgent()
    async with make_runtime(gate) as runtime:
        handle = await runtime.dispatch(Task(agent_type="gate"))
        with anyio.fail_after(5):
            while gate.running == 0:
                await anyio.sleep(0.01)
        await handle.cancel()
        result = await handle.result()
        # The runtime keeps serving after a cancellation.
        follow_up = await runtime.dispatch(Task(agent_type="gate"))
        gate.gate.set()
        assert (await follow_up.result()).status is TaskStatus.COMPLETED
    assert gate.cancelled == 1
    assert result.status is TaskStatus.CANCELLED
    assert result.error is not None and result.error.type == "TaskCancelled"


async def test_cancelling_a_pending_task_never_runs_it() -> None:
    gate = GateAgent()
    async with make_runtime(gate, concurrency=1) as runtime:
        first = await runtime.dispatch(Task(agent_type="gate"))
        second = await runtime.dispatch(Task(agent_type="gate"))
        await second.cancel()
        gate.gate.set()
        await first.result()
        assert (await second.result()).status is TaskStatus.CANCELLED
    assert gate.started == 1


async def test_a_failing_agent_yields_a_structured_error_and_the_runtime_survives() -> None:
    async with make_runtime(FailingAgent(), EchoAgent()) as runtime:
        failed = await (
            await runtime.dispatch(Task(agent_type="failing", payload={"why": "x"}))
        ).result()
        ok = await (await runtime.dispatch(Task(agent_type="echo"))).result()
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "RuntimeError"
    assert failed.error.message == "boom: x"
    assert failed.error.retryable is False
    assert ok.status is TaskStatus.COMPLETED


async def test_a_minds371_error_keeps_its_type_details_and_retryability() -> None:
    class Flaky:
        agent_type = "flaky"

        async def process_task(self, task: Task) -> dict[str, Any]:
            raise ProviderError("provider down", retryable=True, details={"provider": "p1"})

    async with make_runtime(Flaky()) as runtime:
        result = await (await runtime.dispatch(Task(agent_type="flaky"))).result()
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("ProviderError", True)
    assert result.error.details == {"provider": "p1"}


async def test_dispatching_a_known_task_id_returns_the_same_handle_and_runs_once() -> None:
    runs: list[str] = []

    class Counting:
        agent_type = "counting"

        async def process_task(self, task: Task) -> dict[str, Any]:
            runs.append(task.id)
            return {}

    async with make_runtime(Counting()) as runtime:
        task = Task(id="same-id", agent_type="counting")
        handles = [await runtime.dispatch(task) for _ in range(3)]
        handles.append(await runtime.dispatch(task.model_dump()))
        await handles[0].result()
        again = await runtime.dispatch(Task(id="same-id", agent_type="counting"))
        await again.result()
    assert all(h is handles[0] for h in handles)
    assert again is handles[0]
    assert runs == ["same-id"]


async def test_concurrent_dispatch_of_one_id_runs_once() -> None:
    runs: list[str] = []

    class Counting:
        agent_type = "counting"

        async def process_task(self, task: Task) -> dict[str, Any]:
            runs.append(task.id)
            return {}

    async with make_runtime(Counting()) as runtime:
        handles: list[Any] = []

        async def send() -> None:
            handles.append(await runtime.dispatch(Task(id="dup", agent_type="counting")))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(send)
        await handles[0].result()
    assert runs == ["dup"]
    assert len({id(h) for h in handles}) == 1


async def test_a_task_for_an_unserved_agent_type_fails_clearly() -> None:
    async with make_runtime(EchoAgent()) as runtime:
        handle = await runtime.dispatch(Task(agent_type="nobody"))
        with anyio.fail_after(5):
            result = await handle.result()
    assert result.status is TaskStatus.FAILED
    assert result.error is not None
    assert result.error.type == "NoAgentForTask"
    assert "'nobody'" in result.error.message and "echo" in result.error.message


async def test_events_are_ordered_and_replayed_to_late_subscribers() -> None:
    async with make_runtime(EchoAgent()) as runtime:
        handle = await runtime.dispatch(Task(agent_type="echo", payload={"events": 5}))
        live = [e async for e in handle.events()]
        replay = [e async for e in handle.events()]
    assert [e.seq for e in live] == list(range(1, 8))
    assert [e.type for e in live] == ["task.started"] + ["echo.step"] * 5 + ["task.completed"]
    assert [e.data.get("index") for e in live[1:6]] == [0, 1, 2, 3, 4]
    assert replay == live


async def test_a_subscriber_follows_events_as_they_happen() -> None:
    gate = GateAgent()
    async with make_runtime(gate) as runtime:
        handle = await runtime.dispatch(Task(agent_type="gate"))
        seen: list[str] = []

        async def follow() -> None:
            async for event in handle.events():
                seen.append(event.type)

        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            with anyio.fail_after(5):
                while seen != ["task.started"]:
                    await anyio.sleep(0.01)
            gate.gate.set()
    assert seen == ["task.started", "task.completed"]


async def test_registration_is_validated() -> None:
    runtime = make_runtime(EchoAgent())
    with pytest.raises(DuplicateRegistration):
        runtime.register_agent(EchoAgent())
    with pytest.raises(ConfigurationError):
        runtime.register_agent(object())  # type: ignore[arg-type]


async def test_dispatch_rejects_an_invalid_task_mapping_naming_the_field() -> None:
    from minds371.errors import ValidationError

    async with make_runtime(EchoAgent()) as runtime:
        with pytest.raises(ValidationError) as caught:
            await runtime.dispatch({"agent_type": "", "surprise": 1})
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"/agent_type", "/surprise"}


async def test_dispatch_outside_a_running_runtime_is_refused() -> None:
    runtime = make_runtime(EchoAgent())
    with pytest.raises(ConfigurationError):
        await runtime.dispatch(Task(agent_type="echo"))
