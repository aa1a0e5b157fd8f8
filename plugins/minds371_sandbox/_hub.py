"""The shared core the sandbox's HTTP layers work on: the world, its block clock, and faults.

The clock is lazy: no task ticks. Whenever the world is looked at (every request, every waiter
that wakes up) :meth:`Hub.catch_up` produces the blocks that wall time says are due, so heights
follow the block time exactly, and the sandbox needs no background task (it can be entered and
left from different tasks, as test fixtures do). Waiting for a block sleeps until its due time;
manual blocks (:meth:`Hub.produce_block`) wake waiters at once and keep the clock's pace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from minds371_sandbox._world import World

__all__ = ["Faults", "Hub"]


class Faults(BaseModel):
    """Faults injected on demand (``PUT /sandbox/faults`` or :meth:`SandboxNetwork.set_faults`).

    Attributes:
        error_rate: Fraction (0 to 1) of Console API requests (``/v1/...``) answered with
            ``error_status`` and the Console error body.
        error_status: 500, 502 or 503.
        error_phase: ``before`` fails the request without doing it; ``after`` does it and then
            answers the error (the response is "lost"); ``both`` picks either at random. Only
            requests that change something can be hit ``after``.
        gateway_error_rate: Fraction of provider-gateway HTTP requests answered 500 (plain text).
        latency: Seconds added before every Console and gateway request.
        seed: Seed of the fault dice (None = unpredictable).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=503)
    error_phase: str = Field(default="both", pattern="^(before|after|both)$")
    gateway_error_rate: float = Field(default=0.0, ge=0, le=1)
    latency: float = Field(default=0.0, ge=0, le=60)
    seed: int | None = None


class Hub:
    """World + block signal + faults, shared by every route and the clock.

    Args:
        world: The simulated chain.
        faults: Initial faults (none by default).
        on_block: Called after each produced block (persistence hooks in here).
    """

    def __init__(
        self,
        world: World,
        faults: Faults | None = None,
        on_block: Callable[[], None] | None = None,
    ) -> None:
        self.world = world
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._block = anyio.Event()
        self._on_block = on_block
        self.jwt_cache: dict[str, dict[str, Any]] = {}
        self.running = False
        self._anchor_time = time.monotonic()
        self._anchor_height = world.height

    def start_clock(self) -> None:
        """Start the block clock from the current height, now."""
        self._anchor_time = time.monotonic()
        self._anchor_height = self.world.height
        self.running = True

    def stop_clock(self) -> None:
        """Produce the blocks due until now, then stop the clock."""
        self.catch_up()
        self.running = False

    def catch_up(self) -> int:
        """Produce every block due by now (none on a manual or stopped clock); the height."""
        block_time = self.world.config.block_time
        if self.running and block_time is not None:
            due = self._anchor_height + int((time.monotonic() - self._anchor_time) / block_time)
            if due > self.world.height:
                self._produce(due - self.world.height)
        return self.world.height

    def set_faults(self, faults: Faults) -> None:
        """Replace the active faults (and reseed the dice)."""
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0 and self._rng.random() < rate

    def coin(self) -> bool:
        """A fair coin from the same dice."""
        return self._rng.random() < 0.5

    def produce_block(self, blocks: int = 1) -> int:
        """Produce blocks now, ahead of the clock (which keeps its pace); the new height."""
        self.catch_up()
        self._anchor_height += blocks
        return self._produce(blocks)

    def _produce(self, blocks: int) -> int:
        height = self.world.advance(blocks)
        event, self._block = self._block, anyio.Event()
        event.set()
        if self._on_block is not None:
            self._on_block()
        return height

    async def next_block(self) -> int:
        """Wait until the next block is produced; returns the height then."""
        start = self.catch_up()
        block_time = self.world.config.block_time
        while self.catch_up() <= start:
            if not self.running or block_time is None:
                await self._block.wait()  # only a manual block can come
                continue
            due = self._anchor_time + (start + 1 - self._anchor_height) * block_time
            with anyio.move_on_after(max(0.0, due - time.monotonic())):
                await self._block.wait()  # a manual block may come first
        return self.world.height

    async def wait_until(self, height: int) -> None:
        """Wait until the chain reaches ``height``."""
        while self.world.height < height:
            await self.next_block()
