"""The task bus: how dispatched tasks reach the runtime's workers (see :class:`TaskBus`)."""

from minds371.bus._protocol import Delivery, TaskBus
from minds371.bus.memory import MemoryTaskBus

__all__ = ["Delivery", "MemoryTaskBus", "TaskBus"]
