"""minds371: an async agent runtime with tasks, agents, actions and durable state.

The core knows nothing of Akash; the Akash marketplace, the registry and the deployment agent
arrive as plugins (``minds371_akash``, ``minds371_registry``, ``minds371_deploy``).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


# Loaded on first use, so that ``import minds371.errors`` (a CLI stand-in, a plugin listing) does
# not pay for pydantic and the whole runtime.
_WHERE = {
    "Action": "minds371.actions",
    "ActionAnnotations": "minds371.actions",
    "ActionRegistry": "minds371.actions",
    "Agent": "minds371.agent",
    "AgentRuntime": "minds371.runtime",
    "AgentType": "minds371.tasks",
    "Delivery": "minds371.bus",
    "MemoryStateStore": "minds371.state",
    "MemoryTaskBus": "minds371.bus",
    "Minds371Error": "minds371.errors",
    "Plugin": "minds371.plugins",
    "RunContext": "minds371.actions",
    "SQLiteStateStore": "minds371.state",
    "StateStore": "minds371.state",
    "Task": "minds371.tasks",
    "TaskBus": "minds371.bus",
    "TaskContext": "minds371.agent",
    "TaskError": "minds371.tasks",
    "TaskEvent": "minds371.tasks",
    "TaskHandle": "minds371.runtime",
    "TaskResult": "minds371.tasks",
    "TaskStatus": "minds371.tasks",
    "action": "minds371.actions",
    "current_task": "minds371.agent",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("minds371")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'minds371' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
