from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from minds371_sandbox import SandboxNetwork
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


async def test_heights_follow_wall_time_and_manual_blocks_keep_the_pace(
    net: SandboxNetwork,
) -> None:
    began, start = time.monotonic(), net.height
    await anyio.sleep(0.5)
    grown, elapsed = net.height - start, time.monotonic() - began
    expected = int(elapsed / 0.05)  # blocks of 0.05 s in the time that really passed
    assert expected - 1 <= grown <= expected + 1
    before = net.height
    assert await net.advance(3) == before + 3
    later = await net.wait_blocks(2)
    assert later >= before + 5
    began = time.monotonic()
    height = await net.hub.next_block()
    assert height == later + 1
    assert time.monotonic() - began < 1.0  # one block is due within 0.05 s: no hang


async def test_a_stopped_network_does_not_age_and_resumes_from_its_state(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    async with SandboxNetwork(block_time=0.05, state_file=state) as first:
        await first.wait_blocks(3)
        height = first.height
    await anyio.sleep(0.3)  # no blocks while it is down
    async with SandboxNetwork(block_time=0.05, state_file=state) as second:
        assert height <= second.height <= height + 3  # not the 6 blocks of the 0.3 s it was down


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
