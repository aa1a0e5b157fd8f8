"""minds371: an async agent runtime with tasks, agents, actions and durable state.

The core knows nothing of Akash; the Akash marketplace, the registry and the deployment agent
arrive as plugins (``minds371_akash``, ``minds371_registry``, ``minds371_deploy``).
"""

from typing import Any

from minds371.actions import Action, ActionAnnotations, ActionRegistry, RunContext, action
from minds371.agent import Agent, TaskContext, current_task
from minds371.bus import Delivery, MemoryTaskBus, TaskBus
from minds371.errors import Minds371Error
from minds371.plugins import Plugin
from minds371.runtime import AgentRuntime, TaskHandle
from minds371.state import MemoryStateStore, SQLiteStateStore, StateStore
from minds371.tasks import AgentType, Task, TaskError, TaskEvent, TaskResult, TaskStatus

#: Whether providers may reach addresses beyond this machine. The test suite sets it to False.
ALLOW_NETWORK = True

__all__ = [
    "ALLOW_NETWORK",
    "Action",
    "ActionAnnotations",
    "ActionRegistry",
    "Agent",
    "AgentRuntime",
    "AgentType",
    "Delivery",
    "MemoryStateStore",
    "MemoryTaskBus",
    "Minds371Error",
    "Plugin",
    "RunContext",
    "SQLiteStateStore",
    "StateStore",
    "Task",
    "TaskBus",
    "TaskContext",
    "TaskError",
    "TaskEvent",
    "TaskHandle",
    "TaskResult",
    "TaskStatus",
    "action",
    "current_task",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("minds371")
    raise AttributeError(f"module 'minds371' has no attribute {name!r}")
