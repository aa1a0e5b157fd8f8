"""Small agents used by the core tests (real agents, not mocks of our interfaces)."""

from __future__ import annotations

from typing import Any

import anyio

from minds371 import Task, current_task


class EchoAgent:
    agent_type = "echo"

    async def process_task(self, task: Task) -> dict[str, Any]:
        ctx = current_task()
        for index in range(int(task.payload.get("events", 0))):
            await ctx.emit("echo.step", f"step {index}", index=index)
        return {"echo": task.payload}


class GateAgent:
    """Runs until its gate opens; records how many run at once."""

    agent_type = "gate"

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.running = 0
        self.peak = 0
        self.started = 0
        self.cancelled = 0

    async def process_task(self, task: Task) -> dict[str, Any]:
        self.running += 1
        self.started += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.gate.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        return {"id": task.id}


class FailingAgent:
    agent_type = "failing"

    async def process_task(self, task: Task) -> dict[str, Any]:
        raise RuntimeError(f"boom: {task.payload.get('why', 'no reason')}")
