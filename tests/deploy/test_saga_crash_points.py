"""Each crash point of the saga journals sits where its name says: after the record it follows.

A forked child runs one journal call with ``MINDS371_CRASH_AT`` naming one point and a state
file on disk; the parent checks that the child was killed there (SIGKILL) and which steps the
file holds. ``test_recovery.py`` proves the same points end to end with reconcile; this checks
each name in-process, one point at a time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.agent import TaskContext
from minds371.state.memory import MemoryStateStore
from minds371.state.sqlite import SQLiteStateStore
from minds371.tasks import Task
from minds371_akash.market import Lease, LeaseId, Price
from minds371_deploy._faults import CRASH_ENV
from minds371_deploy.saga import ReplicaJournal, SagaJournal

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

LEASE = Lease(
    id=LeaseId(owner="akash1owner", dseq=42, gseq=1, oseq=1, provider="akash1p"),
    state="active",
    price=Price(denom="uact", amount=Decimal(1)),
)
Call = Callable[[TaskContext], Awaitable[None]]


async def create(task: TaskContext) -> None:
    await SagaJournal(task).before_create(version="v1", sdl="")
    await SagaJournal(task).created(dseq=42, version="v1", recovered=False, manifest="m")


async def lease(task: TaskContext) -> None:
    await SagaJournal(task).before_lease(dseq=42, bids=[LEASE.id])
    await SagaJournal(task).leased(dseq=42, leases=[LEASE])


async def replica(task: TaskContext) -> None:
    await ReplicaJournal(task, 2).before_create(version="v1", sdl="")
    await ReplicaJournal(task, 2).created(dseq=50, version="v1", recovered=False, manifest="m")


def run_here(call: Call) -> list[str]:
    """Run ``call`` unarmed in this process; return the steps it recorded."""

    async def here() -> list[str]:
        store = MemoryStateStore()
        task = TaskContext(
            task=Task(id="t", agent_type="deployment"),
            attempt=1,
            store=store,
            runtime=None,
            _emit=_no_events,
        )
        await call(task)
        return [step.name for step in await store.steps("t")]

    return anyio.run(here)


def run_child(path: Path, point: str | None, call: Call) -> int:
    """Run ``call`` in a forked child with ``point`` armed; return the signal that ended it."""

    async def child() -> None:
        async with SQLiteStateStore(path) as store:
            task = TaskContext(
                task=Task(id="t", agent_type="deployment"),
                attempt=1,
                store=store,
                runtime=None,
                _emit=_no_events,
            )
            await call(task)

    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            signal.alarm(30)  # a child stuck on a lock inherited from the fork dies with SIGALRM
            if point is None:
                os.environ.pop(CRASH_ENV, None)
            else:
                os.environ[CRASH_ENV] = point
            anyio.run(child)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0


async def _no_events(*_: Any) -> Any:
    raise AssertionError("the journals emit no events")


def recorded(path: Path) -> list[str]:
    async def read() -> list[str]:
        async with SQLiteStateStore(path, exclusive=False) as store:
            return [step.name for step in await store.steps("t")]

    return anyio.run(read)


EVERY_STEP: dict[Call, list[str]] = {
    create: ["deployment.create_intent", "deployment.created"],
    lease: ["lease.intent", "lease.created"],
    replica: ["replica.create_intent", "replica.created"],
}


@pytest.mark.parametrize(
    ("call", "point", "steps"),
    [
        (create, "deployment.before_create", ["deployment.create_intent"]),
        (create, "deployment.after_create", ["deployment.create_intent"]),
        (create, "deployment.created", ["deployment.create_intent", "deployment.created"]),
        (lease, "lease.before", ["lease.intent"]),
        (lease, "lease.after", ["lease.intent"]),
        (lease, "lease.created", ["lease.intent", "lease.created"]),
        (replica, "replica.before_create", ["replica.create_intent"]),
        (replica, "replica.created", ["replica.create_intent", "replica.created"]),
    ],
)
def test_the_process_dies_at_the_named_point_with_the_steps_before_it_recorded(
    tmp_path: Path, call: Call, point: str, steps: list[str]
) -> None:
    # unarmed, the same calls record every step (run here, where the test can see them)
    assert run_here(call) == EVERY_STEP[call]
    path = tmp_path / "state.sqlite3"
    assert run_child(path, point, call) == signal.SIGKILL
    assert recorded(path) == steps


def test_unarmed_the_journals_run_through(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    for call in (create, lease, replica):
        assert run_child(path, None, call) == 0
    assert len(recorded(path)) == 6
