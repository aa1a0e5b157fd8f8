"""The in-memory task bus on anyio memory object streams (the default)."""

from __future__ import annotations

import itertools
import math

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from minds371.bus._protocol import Delivery
from minds371.tasks import Task

__all__ = ["MemoryTaskBus"]


class MemoryTaskBus:
    """A process-local bus: unbounded, FIFO, one delivery per publish.

    Unacknowledged deliveries are tracked (see :attr:`unacked`) but not redelivered: a process that
    dies loses its memory anyway, and the runtime's state store re-dispatches unfinished tasks.
    The streams are created on first use, so a bus that is never used holds nothing to close.
    """

    def __init__(self) -> None:
        self._streams: (
            tuple[MemoryObjectSendStream[Task], MemoryObjectReceiveStream[Task]] | None
        ) = None
        self._closed = False
        self._ids = itertools.count(1)
        self._unacked: dict[str, Delivery] = {}

    def _open(self) -> tuple[MemoryObjectSendStream[Task], MemoryObjectReceiveStream[Task]]:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._streams is None:
            self._streams = anyio.create_memory_object_stream[Task](math.inf)
        return self._streams

    @property
    def unacked(self) -> int:
        """How many deliveries were received but not yet acknowledged."""
        return len(self._unacked)

    async def publish(self, task: Task) -> None:
        """Queue a task (never blocks: the buffer is unbounded)."""
        self._open()[0].send_nowait(task)

    async def receive(self) -> Delivery:
        """Wait for the next task."""
        stream = self._open()[1]
        try:
            # Take a queued task without a trip through the event loop; wait only when idle.
            task = stream.receive_nowait()
        except anyio.WouldBlock:
            task = await stream.receive()
        delivery = Delivery(task=task, delivery_id=str(next(self._ids)))
        self._unacked[delivery.delivery_id] = delivery
        return delivery

    async def ack(self, delivery: Delivery) -> None:
        """Forget a delivery."""
        self._unacked.pop(delivery.delivery_id, None)

    async def aclose(self) -> None:
        """Close both ends; receivers see ``EndOfStream`` once the buffer is drained."""
        self._closed = True
        if self._streams is not None:
            send, receive = self._streams
            await send.aclose()
            await receive.aclose()
