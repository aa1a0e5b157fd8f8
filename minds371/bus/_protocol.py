"""The task bus: how dispatched tasks reach the runtime's workers.

The protocol is deliberately narrow so that a distributed bus (Redis Streams: ``XADD``,
``XREADGROUP``, ``XACK``) implements it as directly as the in-memory default does. Delivery is
at least once: a worker acknowledges a delivery only after the task has reached a final state, and
a bus may deliver an unacknowledged task again (the durable state store, not the bus, decides
whether it still needs running).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from minds371.tasks import Task

__all__ = ["Delivery", "TaskBus"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of a task to a worker.

    Attributes:
        task: The task.
        delivery_id: The bus's id for this delivery (a stream entry id, a counter, ...).
        attempt: How many times this task has been delivered, counting this one.
    """

    task: Task
    delivery_id: str
    attempt: int = 1


@runtime_checkable
class TaskBus(Protocol):
    """Carries tasks from ``dispatch`` to workers, at least once."""

    async def publish(self, task: Task) -> None:
        """Queue a task for delivery.

        Raises:
            anyio.ClosedResourceError: if the bus was closed.
        """
        ...

    async def receive(self) -> Delivery:
        """Wait for the next delivery.

        Raises:
            anyio.EndOfStream: if the bus was closed and nothing is left to deliver.
        """
        ...

    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge a delivery once its task has reached a final state."""
        ...

    async def aclose(self) -> None:
        """Stop delivering; pending deliveries may be dropped (the state store keeps them)."""
        ...
