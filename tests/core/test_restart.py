from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from minds371 import AgentRuntime, SQLiteStateStore, Task, TaskStatus, current_task

ROOT = Path(__file__).resolve().parents[2]


class Finishing:
    agent_type = "recording"

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def process_task(self, task: Task) -> dict[str, Any]:
        ctx = current_task()
        self.seen.append((task.id, ctx.attempt))
        return {"attempt": ctx.attempt, "steps": [s.name for s in await ctx.steps()]}


def run_until_interrupted(state: Path, markers: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.core.restart_worker", str(state), str(markers)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 20
        while not (markers / "interrupted.attempt1").exists():
            assert process.poll() is None, "the worker process died early"
            assert time.monotonic() < deadline, "the worker never started the hanging task"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


async def test_a_restarted_runtime_reruns_interrupted_tasks_and_keeps_finished_results(
    tmp_path: Path,
) -> None:
    state, markers = tmp_path / "state.db", tmp_path / "markers"
    markers.mkdir()
    await anyio.to_thread.run_sync(run_until_interrupted, state, markers)

    agent = Finishing()
    runtime = AgentRuntime(store=SQLiteStateStore(state), load_plugins=False)
    runtime.register_agent(agent)
    async with runtime:
        interrupted = await runtime.get("interrupted")
        assert interrupted is not None
        with anyio.fail_after(10):
            rerun = await interrupted.result()
            queued = await (await runtime.dispatch(Task(id="queued", agent_type="x"))).result()
            finished = await (await runtime.dispatch(Task(id="finished", agent_type="x"))).result()
        events = [e.type async for e in interrupted.events()]

    assert rerun.status is TaskStatus.COMPLETED
    assert rerun.output["attempt"] == 2
    # The saga step written by the killed attempt is there for the second attempt to read.
    assert rerun.output["steps"] == ["recording.started"]
    assert queued.status is TaskStatus.COMPLETED
    # The finished task is answered from the state, not run again.
    assert finished.output == {"attempt": 1}
    assert ("finished", 1) not in agent.seen and ("finished", 2) not in agent.seen
    assert events == ["task.started", "task.started", "task.completed"]
