"""Embed the minds371 runtime: register your own agent and action, then dispatch tasks to it.

Run: python examples/embedding/embed_runtime.py
"""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel, Field

from minds371 import (
    AgentRuntime,
    MemoryStateStore,
    RunContext,
    Task,
    TaskStatus,
    action,
    current_task,
)


class Forecast(BaseModel):
    city: str = Field(min_length=1, description="the city to forecast")
    days: int = Field(default=1, ge=1, le=7)


@action(description="Forecast the weather for a city.", read_only=True, idempotent=True)
async def FORECAST(ctx: RunContext[None], params: Forecast) -> dict[str, Any]:
    await ctx.progress("forecast.looked_up", f"looked up {params.city}")
    days = [{"day": day + 1, "sky": "clear"} for day in range(params.days)]
    return {"city": params.city, "days": days}


class Planner:
    """An agent of the host application: it plans a trip by calling an action."""

    agent_type = "planner"

    async def process_task(self, task: Task) -> dict[str, Any]:
        ctx = current_task()
        await ctx.emit("planner.started", f"planning a trip to {task.payload['city']}")
        forecast = await ctx.runtime.execute_action("FORECAST", {"city": task.payload["city"]})
        return {"pack_umbrella": any(d["sky"] != "clear" for d in forecast["days"])}


async def main() -> None:
    runtime = AgentRuntime(store=MemoryStateStore(), concurrency=4)
    runtime.actions.register(FORECAST)
    runtime.register_agent(Planner())
    async with runtime:
        handle = await runtime.dispatch(Task(agent_type="planner", payload={"city": "Lisbon"}))
        async for event in handle.events():
            print(f"[{event.seq}] {event.type}: {event.message}")
        result = await handle.result()
    assert result.status is TaskStatus.COMPLETED
    print("result:", result.output)
    print("actions available:", [a.name for a in runtime.actions])


if __name__ == "__main__":
    anyio.run(main)
