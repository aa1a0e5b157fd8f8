"""Group commit on a Redis client: commands awaited at once share a pipeline, each with its reply.

Real parts: a redis-server on a free loopback port.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from minds371.state._redis_batch import CommandBatcher
from tests.servers.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/test.sh)"
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    made = aioredis.Redis.from_url(redis_url)
    await made.flushdb()
    yield made
    await made.aclose()


class CountingClient:
    """A redis-py client that counts the pipelines sent through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pipelines = 0

    def pipeline(self, **options: Any) -> Any:
        self.pipelines += 1
        return self.client.pipeline(**options)


async def test_commands_awaited_at_once_share_round_trips_and_each_gets_its_own_reply(
    client: Any,
) -> None:
    counting = CountingClient(client)
    batcher = CommandBatcher(counting)
    replies: dict[int, Any] = {}

    async def one(n: int) -> None:
        await batcher.call("SET", f"k{n}", str(n))
        replies[n] = await batcher.call("GET", f"k{n}")

    async with anyio.create_task_group() as group:
        for n in range(200):
            group.start_soon(one, n)
    assert replies == {n: str(n).encode() for n in range(200)}
    # 400 commands; one caller at a time sends what is queued, so far fewer round trips.
    assert counting.pipelines <= 20


async def test_an_error_goes_to_its_own_caller_only(client: Any) -> None:
    batcher = CommandBatcher(client)
    await client.set("text", "x")
    outcomes: dict[str, Any] = {}

    async def call(label: str, *args: Any) -> None:
        try:
            outcomes[label] = await batcher.call(*args)
        except ResponseError as exc:
            outcomes[label] = exc

    async with anyio.create_task_group() as group:
        group.start_soon(call, "wrong type", "LPUSH", "text", "y")
        group.start_soon(call, "fine", "INCR", "counter")
        group.start_soon(call, "also fine", "GET", "text")
    assert isinstance(outcomes["wrong type"], ResponseError)
    assert "WRONGTYPE" in str(outcomes["wrong type"])
    assert outcomes["fine"] == 1
    assert outcomes["also fine"] == b"x"


async def test_a_caller_cancelled_before_sending_withdraws_its_write_and_others_go_on(
    client: Any,
) -> None:
    batcher = CommandBatcher(client)
    scopes = {1: anyio.CancelScope(), 2: anyio.CancelScope()}
    done: list[int] = []

    async def write(n: int) -> None:
        with scopes.get(n, anyio.CancelScope()):
            await batcher.call("RPUSH", "log", n)
            done.append(n)

    with anyio.fail_after(10):  # a stalled queue would hang here, not fail
        async with anyio.create_task_group() as group:
            group.start_soon(write, 1)
            group.start_soon(write, 2)
            # Both have queued their command: the first leads and is about to send, the
            # second waits. Both are cancelled before the round trip goes out.
            await anyio.lowlevel.checkpoint()
            assert not done
            scopes[1].cancel()
            scopes[2].cancel()
            group.start_soon(write, 3)
        for n in range(4, 7):
            await write(n)
    assert await client.lrange("log", 0, -1) == [b"3", b"4", b"5", b"6"]
    assert done == [3, 4, 5, 6]


async def test_one_callers_several_commands_go_in_one_round_trip_in_order(client: Any) -> None:
    counting = CountingClient(client)
    batcher = CommandBatcher(counting)
    replies = await batcher.call_many([("SET", "a", "1"), ("GET", "a"), ("INCR", "a")])
    assert replies == [True, b"1", 2]
    assert counting.pipelines == 1
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await batcher.call_many([("INCR", "a"), ("LPUSH", "a", "x")])
    assert await client.get("a") == b"3"  # the command before the failing one was made


async def test_a_failed_round_trip_fails_each_of_its_callers_and_the_next_ones_still_go() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tests.servers.redis_server import free_port

    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    batcher = CommandBatcher(dead)
    failures: list[BaseException] = []

    async def call(n: int) -> None:
        try:
            await batcher.call("GET", f"k{n}")
        except RedisConnectionError as exc:
            failures.append(exc)

    with anyio.fail_after(30):  # a stalled queue would hang here, not fail
        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(call, n)
        await call(5)
    assert len(failures) == 6
    assert len({id(exc) for exc in failures}) == 6  # each caller raises its own error
    await dead.aclose()
