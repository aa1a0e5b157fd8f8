"""The in-memory task bus on anyio memory object streams (the default)."""

from __future__ import annotations

import itertools
import math

import anyio

from minds371.bus._protocol import Delivery
from minds371.tasks import Task

__all__ = ["MemoryTaskBus"]


class MemoryTaskBus:
    """A process-local bus: unbounded, FIFO, one delivery per publish.

    Unacknowledged deliveries are tracked (see :attr:`unacked`) but not redelivered: a process that
    dies loses its memory anyway, and the runtime's state store re-dispatches unfinished tasks.
    """

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[Task](math.inf)
        self._ids = itertools.count(1)
        self._unacked: dict[str, Delivery] = {}

    @property
    def unacked(self) -> int:
        """How many deliveries were received but not yet acknowledged."""
        return len(self._unacked)

    async def publish(self, task: Task) -> None:
        """Queue a task (never blocks: the buffer is unbounded)."""
        self._send.send_nowait(task)

    async def receive(self) -> Delivery:
        """Wait for the next task."""
        task = await self._receive.receive()
        delivery = Delivery(task=task, delivery_id=str(next(self._ids)))
        self._unacked[delivery.delivery_id] = delivery
        return delivery

    async def ack(self, delivery: Delivery) -> None:
        """Forget a delivery."""
        self._unacked.pop(delivery.delivery_id, None)

    async def aclose(self) -> None:
        """Close both ends; receivers see ``EndOfStream`` once the buffer is drained."""
        await self._send.aclose()
        await self._receive.aclose()
