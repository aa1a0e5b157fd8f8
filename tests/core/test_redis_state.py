"""The Redis state store: the state contract, task leases, fencing and results stored once.

Real parts: a redis-server on a free loopback port; two stores on it stand for two processes.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371 import MemoryStateStore, SQLiteStateStore, StateStore, Task, TaskStatus
from minds371 import agent as _agent
from minds371.bus.worker import require_shared_store
from minds371.errors import ConfigurationError
from minds371.state.redis import LeaseLost, RedisStateStore
from minds371.tasks import TaskEvent, TaskResult

# The contract every store keeps, run here on Redis (the ``store`` fixture below).
from tests.core.test_state import (
    test_saga_steps_are_recorded_in_order,
    test_task_lifecycle_round_trips,
    test_tasks_named_finds_only_that_names_tasks_newest_first,
    test_unfinished_lists_pending_and_running_oldest_first,
)
from tests.servers.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/test.sh)"
)

__all__ = [
    "test_saga_steps_are_recorded_in_order",
    "test_task_lifecycle_round_trips",
    "test_tasks_named_finds_only_that_names_tasks_newest_first",
    "test_unfinished_lists_pending_and_running_oldest_first",
]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


_namespaces = iter(range(1_000_000))


@pytest.fixture
def namespace() -> str:
    return f"t{next(_namespaces)}"


@pytest.fixture
async def store(redis_url: str, namespace: str) -> AsyncIterator[StateStore]:
    async with RedisStateStore(redis_url, namespace=namespace) as made:
        yield made


def event(
    task_id: str, seq: int, type: str = "x", status: TaskStatus = TaskStatus.RUNNING
) -> TaskEvent:
    return TaskEvent(task_id=task_id, seq=seq, type=type, status=status)


@contextmanager
def running(task: Task, store: StateStore) -> Iterator[None]:
    """Run the block as the task's own run (as the runtime does while its agent works)."""

    async def emit(type: str, message: str, data: Mapping[str, Any]) -> TaskEvent:
        raise AssertionError("not used")

    context = _agent.TaskContext(task=task, attempt=1, store=store, runtime=None, _emit=emit)
    token = _agent._current.set(context)
    try:
        yield
    finally:
        _agent._current.reset(token)


def done(task_id: str, status: TaskStatus = TaskStatus.COMPLETED) -> TaskResult:
    return TaskResult(task_id=task_id, status=status, output={"by": status.value})


async def test_a_task_written_by_one_process_is_read_by_another(
    redis_url: str, namespace: str
) -> None:
    task = Task(agent_type="a", payload={"n": 1})
    async with (
        RedisStateStore(redis_url, namespace=namespace) as one,
        RedisStateStore(redis_url, namespace=namespace) as two,
    ):
        await one.create_task(task)
        await one.record_step(task.id, "intent", {"version": "v1"})
        _record, created = await two.create_task(task)
        assert not created
        assert [s.name for s in await two.steps(task.id)] == ["intent"]
        assert [r.task.id for r in await two.unfinished()] == [task.id]


async def test_a_worker_that_lost_its_lease_can_neither_journal_nor_read_back_nor_finish(
    redis_url: str, namespace: str
) -> None:
    task = Task(agent_type="a")
    async with (
        RedisStateStore(redis_url, namespace=namespace, lease_ttl=0.2) as slow,
        RedisStateStore(redis_url, namespace=namespace, lease_ttl=5) as taker,
    ):
        await slow.create_task(task)
        assert await slow.acquire(task.id, "1-0") is None
        await slow.mark_running(task.id, event(task.id, 1, "task.started"))
        await slow.record_step(task.id, "deployment.create_intent", {"version": "v"})
        # While the lease lives, nobody else gets it: the holder's delivery id is named.
        assert await taker.acquire(task.id, "2-0") == "1-0"
        await anyio.sleep(0.4)  # the slow worker stalls past its lease
        assert await taker.acquire(task.id, "2-0") is None
        await taker.record_step(task.id, "deployment.created", {"dseq": 7})

        with running(task, slow):
            with pytest.raises(LeaseLost):
                await slow.record_step(task.id, "deployment.create_intent", {"version": "v"})
            with pytest.raises(LeaseLost):
                await slow.steps(task.id)  # no compensation from a journal not its own now
        with pytest.raises(LeaseLost):
            await slow.append_event(event(task.id, 2))
        await slow.finish(done(task.id, TaskStatus.FAILED), event(task.id, 2, "task.failed"))
        # Another task of the slow process may still read the journal (an update looking for
        # the deployment it replaces), unfenced by a lease it never held.
        with running(Task(agent_type="a"), slow):
            assert len(await slow.steps(task.id)) == 2

        await taker.finish(done(task.id), event(task.id, 2, "task.completed"))
        record = await taker.get_task(task.id)
        assert record is not None and record.result is not None
        assert record.result.status is TaskStatus.COMPLETED
        assert [s.name for s in await taker.steps(task.id)] == [
            "deployment.create_intent",
            "deployment.created",
        ]


async def test_a_result_is_stored_once(redis_url: str, namespace: str) -> None:
    task = Task(agent_type="a")
    async with RedisStateStore(redis_url, namespace=namespace) as store:
        await store.create_task(task)
        await store.finish(done(task.id), event(task.id, 1, "task.completed"))
        await store.finish(done(task.id, TaskStatus.CANCELLED), event(task.id, 2, "task.cancelled"))
        record = await store.get_task(task.id)
        assert record is not None and record.result is not None
        assert record.status is TaskStatus.COMPLETED
        assert [e.type for e in await store.events(task.id)] == ["task.completed"]
        notes = await store.client.xrange(store.results_key)
        assert [fields[b"task_id"].decode() for _id, fields in notes] == [task.id]


async def test_a_renewed_lease_outlives_its_lifetime_and_a_released_one_is_free(
    redis_url: str, namespace: str
) -> None:
    task = Task(agent_type="a")
    async with (
        RedisStateStore(redis_url, namespace=namespace, lease_ttl=0.3) as holder,
        RedisStateStore(redis_url, namespace=namespace) as other,
    ):
        await holder.create_task(task)
        assert await holder.acquire(task.id, "1-0") is None
        for _ in range(4):
            await anyio.sleep(0.1)
            assert await holder.renew() == []
        assert await other.acquire(task.id, "2-0") == "1-0"
        await holder.release(task.id)
        assert await other.acquire(task.id, "2-0") is None


async def test_stores_that_processes_cannot_share_are_refused(tmp_path: Path) -> None:
    for store in (MemoryStateStore(), SQLiteStateStore(tmp_path / "state.db")):
        with pytest.raises(ConfigurationError, match="not safe for several worker processes"):
            require_shared_store(store)
    require_shared_store(RedisStateStore("redis://127.0.0.1:1/0"))


async def test_a_runtime_on_the_shared_store_settles_the_handle_its_caller_holds(
    redis_url: str, namespace: str
) -> None:
    # The runtime re-reads a task from a shared store before running it (another process may
    # have moved it); the handle dispatch returned must still be the one that settles.
    from minds371 import AgentRuntime
    from tests.core.agents import EchoAgent

    async with (
        RedisStateStore(redis_url, namespace=namespace) as shared,
        AgentRuntime(store=shared, load_plugins=False) as runtime,
    ):
        runtime.register_agent(EchoAgent())
        handle = await runtime.dispatch(Task(agent_type="echo", payload={"events": 2}))
        with anyio.fail_after(10):
            result = await handle.result()
            events = [event.type async for event in handle.events()]
    assert result.status is TaskStatus.COMPLETED
    assert result.output == {"echo": {"events": 2}}
    assert events == ["task.started", "echo.step", "echo.step", "task.completed"]


async def _named_by_scan(
    store: RedisStateStore,
    name: str,
    statuses: tuple[TaskStatus, ...] | None,
    agent_type: str | None,
) -> list[str]:
    """The answer of ``tasks_named``, found by reading every task and filtering here."""
    every = await store.list_tasks(limit=-1)
    return [
        r.task.id
        for r in every
        if r.task.payload.get("name") == name
        and (statuses is None or r.status in statuses)
        and (agent_type is None or r.task.agent_type == agent_type)
    ]


async def test_the_name_index_answers_as_a_scan_of_every_task_does(
    redis_url: str, namespace: str
) -> None:
    names: list[object] = ["web", "web", "api", "", "web", 7, None, "web"]
    tasks = [
        Task(agent_type="deploy" if n % 3 else "echo", payload={"name": name})
        for n, name in enumerate(names)
    ]
    tasks.append(Task(agent_type="deploy", payload={"image": "no name"}))
    async with (
        RedisStateStore(redis_url, namespace=namespace) as one,
        RedisStateStore(redis_url, namespace=namespace) as two,
    ):
        for task in tasks:
            await one.create_task(task)
        # A second create of a known task indexes nothing twice.
        await two.create_task(tasks[0])
        # Some finish, one fails, one is left running: statuses move, the index does not.
        outcomes = [TaskStatus.COMPLETED, TaskStatus.FAILED] * 2 + [TaskStatus.COMPLETED]
        for task, status in zip(tasks[:5], outcomes, strict=True):
            await one.finish(done(task.id, status), event(task.id, 1, "task.done", status))
        await one.mark_running(tasks[5].id, event(tasks[5].id, 1, "task.started"))
        for name in ("web", "api", "", "7", "nothing"):
            for statuses in (None, (TaskStatus.COMPLETED,), (TaskStatus.PENDING,)):
                for agent_type in (None, "deploy", "echo"):
                    expected = await _named_by_scan(one, name, statuses, agent_type)
                    for store in (one, two):  # the writer, and a process that only reads
                        found = await store.tasks_named(
                            name, statuses=statuses, agent_type=agent_type
                        )
                        assert [r.task.id for r in found] == expected, (name, statuses)
        assert len(await one.tasks_named("web")) == 4
        # The listing filters as reading every task and filtering does, and keeps its limit.
        every = await two.list_tasks(limit=-1)
        assert len(every) == len(tasks)
        for wanted in ((TaskStatus.COMPLETED,), (TaskStatus.PENDING, TaskStatus.RUNNING)):
            listed = await two.list_tasks(statuses=wanted, agent_type="deploy", limit=-1)
            assert [r.task.id for r in listed] == [
                r.task.id for r in every if r.status in wanted and r.task.agent_type == "deploy"
            ]
        assert [r.task.id for r in await one.list_tasks(limit=3)] == [r.task.id for r in every[:3]]
        # A task whose record is gone (deleted by hand) is not answered from the index.
        await one.client.delete(f"{namespace}:task:{tasks[1].id}")
        assert [r.task.id for r in await two.tasks_named("web")] == await _named_by_scan(
            two, "web", None, None
        )
        assert tasks[1].id not in {r.task.id for r in await two.tasks_named("web")}


async def test_tasks_stored_before_the_name_index_are_indexed_when_a_store_opens(
    redis_url: str, namespace: str
) -> None:
    older = [Task(agent_type="deploy", payload={"name": "web"}) for _ in range(3)]
    async with RedisStateStore(redis_url, namespace=namespace) as first:
        for task in older:
            await first.create_task(task)
        await first.finish(done(older[0].id), event(older[0].id, 1, "task.completed"))
        # As a namespace written before the index existed: no name keys, no marker.
        stale = [key async for key in first.client.scan_iter(f"{namespace}:names:*")]
        await first.client.delete(*stale, f"{namespace}:index:names")
        assert await first.tasks_named("web") == []
    async with RedisStateStore(redis_url, namespace=namespace) as reopened:
        found = [r.task.id for r in await reopened.tasks_named("web")]
        assert sorted(found) == sorted(t.id for t in older)
        assert found == await _named_by_scan(reopened, "web", None, None)
        completed = await reopened.tasks_named("web", statuses=(TaskStatus.COMPLETED,))
        assert [r.task.id for r in completed] == [older[0].id]
