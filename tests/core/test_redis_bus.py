from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore, Task, TaskBus, TaskStatus
from minds371.bus.redis import RedisTaskBus
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
