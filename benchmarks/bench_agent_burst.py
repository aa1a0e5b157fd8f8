"""Deployment tasks dispatched at once to one runtime, against ``minds371 sandbox serve``.

Run: ``python benchmarks/bench_agent_burst.py [--tasks 200] [--block-time 0.2]``

Each task goes the whole way through the DeploymentAgent (request validation, registry check,
SDL, saga journal, deploy, registry record, monitor script) on a served sandbox, with the
runtime's SQLite state and the embedded registry in a fresh temporary ``MINDS371_HOME``.
Prints the wall time against one task alone, the client's CPU seconds per task, and checks that
every task completed with a deployment of its own and nothing else is left running.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import structlog

from minds371 import AgentRuntime, AgentType, Task, TaskStatus
from minds371_sandbox import SandboxServer


def _request(name: str) -> dict[str, Any]:
    service = {"name": "web", "image": "nginx:1.27", "ports": [{"port": 80}]}
    return {"name": name, "infra_spec": {"services": [service], "max_price_uact": 100}}


async def _burst(tasks: int, prefix: str) -> tuple[float, float, list[TaskStatus], set[str]]:
    async with AgentRuntime(concurrency=tasks) as runtime:
        start, cpu = time.perf_counter(), time.process_time()
        handles = [
            await runtime.dispatch(
                Task(agent_type=AgentType.DEPLOYMENT, payload=_request(f"{prefix}-{i}"))
            )
            for i in range(tasks)
        ]
        results = [await handle.result() for handle in handles]
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    dseqs = {str(r.output["dseq"]) for r in results if r.output}
    return wall, cpu, [r.status for r in results], dseqs


async def main(tasks: int, block_time: float) -> int:
    async with SandboxServer(block_time=block_time) as server:
        os.environ["MINDS371_SANDBOX_URL"] = server.base_url
        one, _, _, single = await _burst(1, "single")
        wall, cpu, statuses, dseqs = await _burst(tasks, "burst")
        snapshot = await server.snapshot()
    active = {str(d["dseq"]) for d in snapshot["deployments"] if d["state"] == "active"}
    active -= single
    counts = collections.Counter(s.value for s in statuses)
    print(f"block time                 {block_time:.3f} s")
    print(f"one task                   {one:.3f} s")
    print(f"tasks at once              {tasks} in {wall:.3f} s ({wall / one:.2f}x one task)")
    print(f"client CPU per task        {cpu / tasks * 1000:.1f} ms")
    print(f"outcomes                   {dict(counts)}")
    print(f"distinct deployments       {len(dseqs)}; active on the sandbox {len(active)}")
    ok = counts.get("completed") == tasks and len(dseqs) == tasks and dseqs == active
    return 0 if ok else 1


def _cli() -> int:
    # A benchmark is an application: keep the library's info events off the measurement.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--block-time", type=float, default=0.2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="minds371-bench-") as home:
        os.environ["MINDS371_HOME"] = home
        return anyio.run(main, args.tasks, args.block_time)


if __name__ == "__main__":
    sys.exit(_cli())
