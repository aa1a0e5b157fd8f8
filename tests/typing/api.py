"""A typed consumer of the public API: checked by mypy --strict, never run.

If a change to the public API breaks a host's typed code, mypy fails here first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from minds371 import (
    Action,
    ActionRegistry,
    Agent,
    AgentRuntime,
    AgentType,
    MemoryStateStore,
    RunContext,
    Task,
    TaskEvent,
    TaskHandle,
    TaskResult,
    TaskStatus,
    action,
    current_task,
)
from minds371.errors import Minds371Error, ProviderError, ValidationError


class Params(BaseModel):
    name: str


@action(description="Typed action.", read_only=True)
async def TYPED(ctx: RunContext[int], params: Params) -> dict[str, str]:
    depth: int = ctx.deps
    return {"name": params.name * depth}


class TypedAgent:
    agent_type: str = AgentType.DEPLOYMENT

    async def process_task(self, task: Task) -> dict[str, Any]:
        await current_task().emit("typed.step", "a step", n=1)
        return {}


async def consumer() -> None:
    registry: ActionRegistry = ActionRegistry()
    registered: Action = registry.register(TYPED)
    output: Any = await registry.execute(registered.name, {"name": "x"}, ctx=RunContext(deps=2))
    agent: Agent = TypedAgent()
    runtime = AgentRuntime(store=MemoryStateStore(), concurrency=2, actions=registry)
    runtime.register_agent(agent)
    async with runtime:
        handle: TaskHandle = await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT))
        async for event in handle.events():
            seq: int = event.seq
            typed_event: TaskEvent = event
        result: TaskResult = await handle.result()
        final: bool = result.status.is_final and result.status is TaskStatus.COMPLETED
    try:
        raise ProviderError("x", retryable=True)
    except ValidationError as bad:
        paths: list[str] = [issue.path for issue in bad.issues]
        del paths
    except Minds371Error as failure:
        info: dict[str, Any] = failure.to_dict()
        del info
    del output, seq, typed_event, final
