"""The shared core the sandbox's HTTP layers work on: the world, its block signal, and faults.

Route modules receive a :class:`Hub`; the clock (:mod:`._network`) calls :meth:`Hub.produce_block`.
Waiting for the next block is a cheap event swap, so hundreds of followers (log streams, Console
waiting for a provider to see a lease) cost nothing between blocks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from minds371_akash.market.sandbox._world import World

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
        """Advance the world and wake everything waiting for a block."""
        height = self.world.advance(blocks)
        event, self._block = self._block, anyio.Event()
        event.set()
        if self._on_block is not None:
            self._on_block()
        return height

    async def next_block(self) -> int:
        """Wait until the next block is produced; returns its height."""
        await self._block.wait()
        return self.world.height

    async def wait_until(self, height: int) -> None:
        """Wait until the chain reaches ``height``."""
        while self.world.height < height:
            await self.next_block()
