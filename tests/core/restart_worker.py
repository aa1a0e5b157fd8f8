"""A runtime process for the restart test: finishes one task, then hangs in a second until killed.

Usage: python -m tests.core.restart_worker STATE_DB MARKER_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

from minds371 import AgentRuntime, SQLiteStateStore, Task, current_task


class Recording:
    agent_type = "recording"

    def __init__(self, markers: Path) -> None:
        self.markers = markers

    async def process_task(self, task: Task) -> dict[str, Any]:
        ctx = current_task()
        await ctx.record_step("recording.started", attempt=ctx.attempt)
        (self.markers / f"{task.id}.attempt{ctx.attempt}").touch()
        if task.payload.get("hang"):
            await anyio.sleep_forever()
        return {"attempt": ctx.attempt}


async def main(state: Path, markers: Path) -> None:
    runtime = AgentRuntime(store=SQLiteStateStore(state), load_plugins=False)
    runtime.register_agent(Recording(markers))
    async with runtime:
        done = await runtime.dispatch(Task(id="finished", agent_type="recording"))
        await done.result()
        await runtime.dispatch(Task(id="interrupted", agent_type="recording", payload={"hang": 1}))
        await runtime.dispatch(Task(id="queued", agent_type="recording"))
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), Path(sys.argv[2]))
