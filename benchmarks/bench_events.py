"""CPU of task events and saga steps: N tasks at once, each emitting and journalling like a deploy.

Usage: python benchmarks/bench_events.py [--tasks 1000] [--store sqlite|memory|redis]
       [--redis-url redis://127.0.0.1:6379/15] [--rounds 3] [--spread 0.2]

Each task of the ``deploy`` agent below does what a ``DEPLOY_TO_AKASH`` task does to its state:
11 progress events (with a deployment's kind of data: a dseq, a version hash, bids, endpoints),
6 saga steps (one holding a manifest) and 3 reads of its steps, all through a real
:class:`~minds371.AgentRuntime` and state store. The same N tasks are also run through a ``noop``
agent (which pauses the same way, see ``Pauses``); the difference in process CPU, divided by
the events and steps, is what one costs:

    µs of CPU per event or step (events and steps together, the task's own cost taken out)

``--store redis`` needs a ``redis-server`` at ``--redis-url`` (its namespace is deleted after).
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import structlog

from minds371 import AgentRuntime, MemoryStateStore, SQLiteStateStore, Task, TaskStatus
from minds371.agent import current_task
from minds371.state import StateStore

EVENTS_PER_TASK = 11
STEPS_PER_TASK = 6
READS_PER_TASK = 3
_VERSION = "9f2c" * 16
_MANIFEST = '[{"name":"dcloud","services":[{"name":"web","image":"nginx:1.27","count":1}]}]' * 8


class Pauses:
    """The pauses of a task between its events and steps, the same for every agent's task.

    A deployment task waits for the network between two events: with these pauses the tasks'
    writes arrive spread out, in group commits of a few, as in a real burst, instead of all at
    once in the same loop iteration.
    """

    def __init__(self, task: Task, spread: float) -> None:
        self._random = random.Random(int(task.payload["n"]))
        self._spread = spread

    async def __call__(self) -> None:
        if self._spread:
            await anyio.sleep(self._random.uniform(0, self._spread))


class NoOp:
    """The task's own cost: dispatch, start, result, and the same pauses as ``Deploy``."""

    agent_type = "noop"

    def __init__(self, spread: float) -> None:
        self.spread = spread

    async def process_task(self, task: Task) -> dict[str, Any]:
        pause = Pauses(task, self.spread)
        for _ in range(EVENTS_PER_TASK + STEPS_PER_TASK + READS_PER_TASK):
            await pause()
        return {}


class Deploy:
    """A deployment task's events and steps, without the network."""

    agent_type = "deploy"

    def __init__(self, spread: float) -> None:
        self.spread = spread

    async def process_task(self, task: Task) -> dict[str, Any]:
        ctx = current_task()
        pause = Pauses(task, self.spread)
        dseq = 1000 + int(task.payload["n"])
        provider = "akash1" + "q" * 38
        bids = [
            {"provider": provider, "price": "1.5", "denom": "uact", "gseq": 1, "oseq": 1}
            for _ in range(3)
        ]
        await pause()
        await ctx.steps()
        await pause()
        await ctx.emit("deployment.accepted", "request validated")
        await pause()
        await ctx.emit("deployment.validated", "SDL valid", version=_VERSION)
        await pause()
        await ctx.record_step("deployment.create_intent", version=_VERSION)
        await pause()
        await ctx.emit("deployment.created", f"deployment {dseq} created", dseq=dseq)
        await pause()
        await ctx.record_step(
            "deployment.created", dseq=dseq, version=_VERSION, recovered=False, manifest=_MANIFEST
        )
        await pause()
        await ctx.steps()
        await pause()
        await ctx.emit("bids.waiting", "waiting for bids", dseq=dseq)
        await pause()
        await ctx.emit("bids.received", "3 bids", dseq=dseq, bids=bids)
        await pause()
        await ctx.emit("bids.chosen", f"chose {provider}", dseq=dseq, provider=provider)
        await pause()
        await ctx.record_step(
            "lease.intent", dseq=dseq, bids=[{"gseq": 1, "oseq": 1, "provider": provider}]
        )
        await pause()
        await ctx.emit("lease.created", "leased gseq 1", dseq=dseq, provider=provider, gseq=1)
        await pause()
        await ctx.emit("manifest.sent", f"manifest sent for deployment {dseq}", dseq=dseq)
        await pause()
        await ctx.record_step("lease.created", dseq=dseq, providers=[provider])
        await pause()
        await ctx.steps()
        endpoints = [f"http://{dseq}.ingress.example:80"]
        await pause()
        await ctx.emit("deployment.ready", "ready", dseq=dseq, endpoints=endpoints)
        await pause()
        await ctx.record_step("registry.recorded", dseq=dseq, record_id=_VERSION[:40])
        output = {"dseq": dseq, "provider": provider, "endpoints": endpoints, "version": _VERSION}
        await pause()
        await ctx.record_step("deployment.finalized", output=output)
        await pause()
        await ctx.emit("deployment.registered", "registered", record_id=_VERSION[:40], cid="bafy")
        await pause()
        await ctx.emit(
            "deployment.finished", "deployment ready in 0.5 s", status="ready", steps=["a", "b"]
        )
        return output


@asynccontextmanager
async def _store(kind: str, folder: Path, url: str) -> AsyncIterator[StateStore]:
    if kind == "memory":
        yield MemoryStateStore()
    elif kind == "sqlite":
        yield SQLiteStateStore(folder / f"state-{uuid.uuid4().hex}.db")
    else:
        from minds371.state.redis import RedisStateStore

        namespace = f"bench-{uuid.uuid4().hex}"
        yield RedisStateStore(url, namespace=namespace)
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
        client.close()


async def _burst(store: StateStore, agent_type: str, tasks: int, spread: float) -> float:
    """Process CPU seconds for ``tasks`` tasks of ``agent_type`` dispatched at once."""
    runtime = AgentRuntime(store=store, concurrency=tasks, load_plugins=False)
    runtime.register_agent(NoOp(spread))
    runtime.register_agent(Deploy(spread))
    async with runtime:
        batch = [Task(agent_type=agent_type, payload={"n": n}) for n in range(tasks)]
        started = time.process_time()
        handles = [await runtime.dispatch(task) for task in batch]
        for handle in handles:
            result = await handle.result()
            assert result.status is TaskStatus.COMPLETED, result
        return time.process_time() - started


async def run(kind: str, tasks: int, rounds: int, url: str, spread: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        best: dict[str, float] = {}
        for _ in range(rounds):
            for agent_type in ("noop", "deploy"):
                async with _store(kind, Path(folder), url) as store:
                    cpu = await _burst(store, agent_type, tasks, spread)
                best[agent_type] = min(best.get(agent_type, cpu), cpu)
    per_task = (best["deploy"] - best["noop"]) / tasks
    writes = EVENTS_PER_TASK + STEPS_PER_TASK
    print(
        f"{kind:7} {tasks} tasks: noop {best['noop'] / tasks * 1e3:.2f} ms/task, deploy "
        f"{best['deploy'] / tasks * 1e3:.2f} ms/task; events and steps "
        f"{per_task * 1e3:.2f} ms/task = {per_task / writes * 1e6:.1f} µs per event or step"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--store", choices=["sqlite", "memory", "redis"], default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--spread", type=float, default=0.2, help="longest pause before each event or step (s)"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    anyio.run(run, args.store, args.tasks, args.rounds, args.redis_url, args.spread)


if __name__ == "__main__":
    main()
