"""Throughput of the agent runtime: N no-op tasks through dispatch, workers, events and results.

Usage: python benchmarks/bench_runtime.py [--tasks 10000] [--store both|memory|sqlite]
       [--concurrency 64] [--producers 64]

Each store runs in its own process so that its peak RSS is its own. Targets on a 2-core machine:
>= 5,000 tasks/s with the SQLite store, >= 20,000 tasks/s in memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from minds371 import AgentRuntime, MemoryStateStore, SQLiteStateStore, Task, TaskStatus


class NoOp:
    agent_type = "noop"

    async def process_task(self, task: Task) -> dict[str, Any]:
        return {}


async def run(store_kind: str, tasks: int, concurrency: int, producers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = (
            MemoryStateStore()
            if store_kind == "memory"
            else SQLiteStateStore(Path(folder) / "state.db")
        )
        runtime = AgentRuntime(store=store, concurrency=concurrency, load_plugins=False)
        runtime.register_agent(NoOp())
        batch = [Task(agent_type="noop") for _ in range(tasks)]
        completed = 0
        async with runtime:
            started = time.perf_counter()

            async def produce(offset: int) -> None:
                nonlocal completed
                handles = [await runtime.dispatch(t) for t in batch[offset::producers]]
                for handle in handles:
                    result = await handle.result()
                    completed += result.status is TaskStatus.COMPLETED

            async with anyio.create_task_group() as group:
                for offset in range(producers):
                    group.start_soon(produce, offset)
            elapsed = time.perf_counter() - started
    return {
        "store": store_kind,
        "tasks": tasks,
        "completed": completed,
        "seconds": round(elapsed, 3),
        "tasks_per_second": round(tasks / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--store", choices=["both", "memory", "sqlite"], default="both")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--producers", type=int, default=64)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report = anyio.run(run, args.store, args.tasks, args.concurrency, args.producers)
        print(json.dumps(report))
        return
    stores = ["sqlite", "memory"] if args.store == "both" else [args.store]
    print(f"{'store':8} {'tasks':>7} {'seconds':>8} {'tasks/s':>9} {'peak RSS MB':>12}")
    for store in stores:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--store",
                store,
                "--tasks",
                str(args.tasks),
                "--concurrency",
                str(args.concurrency),
                "--producers",
                str(args.producers),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(done.stdout)
        assert r["completed"] == r["tasks"], r
        print(
            f"{r['store']:8} {r['tasks']:>7} {r['seconds']:>8} {r['tasks_per_second']:>9} "
            f"{r['peak_rss_mb']:>12}"
        )


if __name__ == "__main__":
    main()
