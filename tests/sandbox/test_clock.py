from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from minds371_sandbox import SandboxNetwork, _hub
from tests.sandbox.helpers import create, lease_cheapest, wait_ready


@pytest.fixture
async def net() -> AsyncIterator[SandboxNetwork]:
    # Set up and torn down in different tasks by pytest-asyncio: the lazy clock allows it.
    async with SandboxNetwork(block_time=0.05) as network:
        yield network


async def test_a_fixture_network_deploys(net: SandboxNetwork) -> None:
    client = net.client("k")
    dseq, manifest = await create(client)
    assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
    await wait_ready(client, dseq)


class StoppedTime:
    """Stands in for the ``time`` module of the sandbox's block clock: it moves only when told.

    The clock's arithmetic (blocks due, the pace after manual blocks, a stopped network that does
    not age) is then checked exactly, without asserting anything about the machine's speed.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def stopped_time(monkeypatch: pytest.MonkeyPatch) -> StoppedTime:
    fake = StoppedTime()
    monkeypatch.setattr(_hub, "time", fake)
    return fake


async def test_heights_follow_the_clock_and_manual_blocks_keep_the_pace(
    stopped_time: StoppedTime,
) -> None:
    # Times in binary fractions, so that the clock's float arithmetic is exact.
    async with SandboxNetwork(block_time=0.5) as net:
        start = net.height
        stopped_time.now += 5.0
        assert net.height == start + 10  # blocks of 0.5 s in the 5 s that passed
        stopped_time.now += 0.25
        assert net.height == start + 10  # the next block is not due yet
        assert await net.advance(3) == start + 13
        stopped_time.now += 0.25
        assert net.height == start + 14  # manual blocks leave the clock's pace alone

        heights: list[int] = []

        async def waiter() -> None:
            heights.append(await net.hub.next_block())

        with anyio.fail_after(10):  # a guard against a hang, not a timing assertion
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter)
                await anyio.wait_all_tasks_blocked()
                assert heights == []
                stopped_time.now += 0.5  # one block falls due
        assert heights == [start + 15]


async def test_a_stopped_network_does_not_age_and_resumes_from_its_state(
    tmp_path: Path, stopped_time: StoppedTime
) -> None:
    state = tmp_path / "world.json"
    async with SandboxNetwork(block_time=0.5, state_file=state) as first:
        stopped_time.now += 1.5
        height = first.height
    stopped_time.now += 3.0  # the 6 blocks of the 3 s it was down are never produced
    async with SandboxNetwork(block_time=0.5, state_file=state) as second:
        assert second.height == height
        stopped_time.now += 1.0
        assert second.height == height + 2  # and it goes on from there


async def test_manual_clock_waiters_wake_on_advance() -> None:
    async with SandboxNetwork(manual_clock=True) as net:
        start = net.height
        await anyio.sleep(0.1)
        assert net.height == start
        heights: list[int] = []

        async def waiter() -> None:
            heights.append(await net.hub.next_block())

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            assert heights == []
            await net.advance(2)
        assert heights == [start + 2]
