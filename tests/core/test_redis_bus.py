from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore, Task, TaskBus, TaskStatus
from minds371.bus.redis import CANCELLER, RedisTaskBus
from minds371.bus.remote import RemoteTasks
from minds371.state.redis import RedisStateStore
from minds371.tasks import TaskEvent, TaskResult
from tests.core.agents import EchoAgent
from tests.servers.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/test.sh)"
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def bus(url: str, stream: str, consumer: str, **options: Any) -> RedisTaskBus:
    return RedisTaskBus(url, stream=stream, consumer=consumer, block=0.05, **options)


async def test_a_task_is_delivered_once_and_acknowledged(redis_url: str) -> None:
    one = bus(redis_url, "s1", "a")
    assert isinstance(one, TaskBus)
    task = Task(agent_type="echo", payload={"n": 1})
    await one.publish(task)
    delivery = await one.receive()
    assert delivery.task == task
    assert delivery.attempt == 1
    assert await one.pending() == 1
    await one.ack(delivery)
    assert await one.pending() == 0
    await one.aclose()


async def test_an_unacknowledged_delivery_is_reclaimed_by_another_consumer(redis_url: str) -> None:
    crashed = bus(redis_url, "s2", "crashed", claim_idle=0.1)
    survivor = bus(redis_url, "s2", "survivor", claim_idle=0.1)
    task = Task(agent_type="echo")
    await crashed.publish(task)
    first = await crashed.receive()  # received, then the consumer "dies" without acking
    await crashed.aclose()
    await anyio.sleep(0.15)
    with anyio.fail_after(5):
        second = await survivor.receive()
    assert second.task.id == task.id
    assert second.delivery_id == first.delivery_id
    assert second.attempt == 2
    await survivor.ack(second)
    assert await survivor.pending() == 0
    await survivor.aclose()


async def test_the_runtime_runs_tasks_over_the_redis_bus(redis_url: str, tmp_path: Path) -> None:
    runtime = AgentRuntime(
        store=MemoryStateStore(), bus=bus(redis_url, "s3", "runtime"), load_plugins=False
    )
    runtime.register_agent(EchoAgent())
    async with runtime:
        handles = [
            await runtime.dispatch(Task(agent_type="echo", payload={"i": i})) for i in range(20)
        ]
        with anyio.fail_after(10):
            results = [await h.result() for h in handles]
    assert [r.output["echo"]["i"] for r in results] == list(range(20))
    assert all(r.status is TaskStatus.COMPLETED for r in results)
    check = bus(redis_url, "s3", "checker")
    assert await check.pending() == 0
    await check.aclose()


# -- with leases: how worker processes share tasks ------------------------------------------------


async def test_a_copy_of_a_task_another_worker_runs_is_dropped(redis_url: str) -> None:
    async with (
        RedisStateStore(redis_url, namespace="copies") as one_state,
        RedisStateStore(redis_url, namespace="copies") as two_state,
    ):
        one = bus(redis_url, "s4", "one", leases=one_state, read_count=1)
        two = bus(redis_url, "s4", "two", leases=two_state, read_count=1)
        task = Task(agent_type="echo")
        await one_state.create_task(task)
        await one.publish(task)
        await one.publish(task)  # a copy: a dispatcher that retried, a runtime that recovered
        taken = await one.receive()
        with anyio.move_on_after(0.5) as waited:
            await two.receive()
        assert waited.cancelled_caught  # the copy was not handed out
        assert await two.pending() == 1  # and is gone; the running one stays pending
        await one.ack(taken)
        assert await one.pending() == 0
        await one.aclose()
        await two.aclose()


async def test_a_stopping_worker_hands_its_task_back_at_once(redis_url: str) -> None:
    async with (
        RedisStateStore(redis_url, namespace="handback") as leaving_state,
        RedisStateStore(redis_url, namespace="handback") as staying_state,
    ):
        # claim_idle is long: only the hand-back can bring the task to the other worker soon.
        leaving = bus(redis_url, "s5", "leaving", leases=leaving_state, claim_idle=60)
        staying = bus(redis_url, "s5", "staying", leases=staying_state, claim_idle=60)
        task = Task(agent_type="echo")
        await leaving_state.create_task(task)
        await leaving.publish(task)
        first = await leaving.receive()
        assert leaving.in_flight == 1
        await leaving.aclose()  # interrupted by a shutdown: not acknowledged, not finished
        with anyio.fail_after(5):
            second = await staying.receive()
        assert second.task.id == task.id and second.delivery_id != first.delivery_id
        await staying.ack(second)
        assert await staying.pending() == 0
        await staying.aclose()


async def test_a_delivery_of_a_finished_task_is_acknowledged_without_running(
    redis_url: str,
) -> None:
    async with RedisStateStore(redis_url, namespace="finished") as state:
        serving = bus(redis_url, "s6", "serving", leases=state)
        task = Task(agent_type="echo")
        await state.create_task(task)
        await state.finish(
            TaskResult(task_id=task.id, status=TaskStatus.COMPLETED),
            TaskEvent(task_id=task.id, seq=1, type="task.completed", status=TaskStatus.COMPLETED),
        )
        await serving.publish(task)
        with anyio.move_on_after(0.5) as waited:
            await serving.receive()
        assert waited.cancelled_caught
        assert await serving.pending() == 0
        await serving.aclose()


async def test_cancelling_a_task_no_worker_took_ends_it_cancelled(redis_url: str) -> None:
    async with RemoteTasks(redis_url, namespace="nobody") as remote:
        handle = await remote.dispatch(Task(agent_type="echo"))
        assert await remote.live_workers() == 0
        with anyio.fail_after(5):
            await handle.cancel()
            result = await handle.result()
        assert result.status is TaskStatus.CANCELLED
        assert [e.type async for e in handle.events()] == ["task.cancelled"]
        # A worker that reads it afterwards settles it without running it.
        serving = bus(redis_url, "nobody:tasks", "late", leases=remote.store, group="nobody")
        with anyio.move_on_after(0.5) as waited:
            await serving.receive()
        assert waited.cancelled_caught
        assert await serving.pending() == 0
        assert await remote.live_workers() == 1  # the late one, just seen reading
        await serving.aclose()


async def test_more_receivers_than_connections_share_the_pool(redis_url: str) -> None:
    # A worker with --concurrency 250 has 250 receivers waiting at once.
    serving = bus(redis_url, "s7", "crowded")
    count = 3 * 64
    received: list[str] = []

    async def receive_one() -> None:
        received.append((await serving.receive()).task.id)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(receive_one)
            for _ in range(count):
                await serving.publish(Task(agent_type="echo"))
    assert len(set(received)) == count
    await serving.aclose()


async def test_a_delivery_met_while_a_caller_cancels_stays_pending(redis_url: str) -> None:
    async with (
        RedisStateStore(redis_url, namespace="racing") as caller,
        RedisStateStore(redis_url, namespace="racing") as state,
    ):
        serving = bus(redis_url, "s8", "serving", leases=state)
        task = Task(agent_type="echo")
        await caller.create_task(task)
        await serving.publish(task)
        # The caller holds the lease for the moment it takes to look at the task: the
        # delivery, the task's only one, must not be dropped as a copy.
        assert await caller.acquire(task.id, CANCELLER) is None
        with anyio.move_on_after(0.5) as waited:
            await serving.receive()
        assert waited.cancelled_caught
        assert await serving.pending() == 1
        await caller.release(task.id)
        await serving.aclose()


async def test_a_task_asked_to_cancel_before_any_worker_started_it_is_ended_by_the_taker(
    redis_url: str,
) -> None:
    # The caller's flag is set but the caller did not end the task itself (it stopped, or a
    # worker held the lease for a moment): the worker that takes the task ends it CANCELLED.
    async with RedisStateStore(redis_url, namespace="flagged") as state:
        serving = bus(redis_url, "s9", "serving", leases=state)
        task = Task(agent_type="echo")
        await state.create_task(task)
        await state.request_cancel(task.id)
        await serving.publish(task)
        with anyio.move_on_after(0.5) as waited:
            await serving.receive()
        assert waited.cancelled_caught
        record = await state.get_task(task.id)
        assert record is not None and record.result is not None
        assert record.status is TaskStatus.CANCELLED
        assert [e.type for e in await state.events(task.id)] == ["task.cancelled"]
        assert await serving.pending() == 0
        assert state.held == []
        await serving.aclose()
