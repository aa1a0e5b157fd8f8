"""Agents, and the task context through which a running agent reports progress.

An agent is anything with an ``agent_type`` and ``async process_task(task) -> dict``. While the
runtime runs ``process_task``, :func:`current_task` returns the :class:`TaskContext` of that task:
the agent emits progress events and records saga steps through it, without the runtime leaking
into its signature::

    class Greeter:
        agent_type = "greeter"

        async def process_task(self, task: Task) -> dict[str, Any]:
            ctx = current_task()
            await ctx.emit("greeter.thinking", "choosing words")
            return {"greeting": f"hello {task.payload['name']}"}
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from minds371.errors import ConfigurationError
from minds371.state import SagaStep, StateStore
from minds371.tasks import Task, TaskEvent

__all__ = ["Agent", "TaskContext", "current_task", "optional_task"]


@runtime_checkable
class Agent(Protocol):
    """Serves the tasks of one agent type.

    ``process_task`` returns the task's output (a JSON-serialisable dict). Raising ends the task
    FAILED with a structured error: a :class:`~minds371.errors.Minds371Error` keeps its type,
    message, details and ``retryable``. Delivery is at least once, so a task may run again after a
    crash: agents are written to be idempotent (the saga steps of :class:`TaskContext` help).
    """

    agent_type: str

    async def process_task(self, task: Task) -> dict[str, Any]:
        """Do the task's work and return its output."""
        ...


@dataclass(slots=True)
class TaskContext:
    """The runtime's view of one running task, given to its agent.

    Attributes:
        task: The task.
        attempt: Which run of the task this is (2 or more after a crash or redelivery).
        store: The runtime's state store.
        runtime: The runtime running it (typed loosely to keep this module free of cycles).
    """

    task: Task
    attempt: int
    store: StateStore
    runtime: Any
    _emit: Callable[[str, str, Mapping[str, Any]], Awaitable[TaskEvent]] = field(repr=False)

    async def emit(self, type: str, message: str = "", **data: Any) -> TaskEvent:
        """Emit a progress event (dotted ``type``), stored durably and streamed to followers."""
        return await self._emit(type, message, data)

    async def record_step(self, name: str, **data: Any) -> SagaStep:
        """Durably record a saga step before the side effect it guards."""
        return await self.store.record_step(self.task.id, name, data)

    async def steps(self) -> list[SagaStep]:
        """The saga steps recorded for this task so far, in every attempt."""
        return await self.store.steps(self.task.id)


_current: contextvars.ContextVar[TaskContext] = contextvars.ContextVar("minds371_task")


def current_task() -> TaskContext:
    """The context of the task whose agent is running in this (async) context.

    Raises:
        ConfigurationError: if called outside an agent's ``process_task``.
    """
    try:
        return _current.get()
    except LookupError:
        raise ConfigurationError(
            "current_task() is only available while the runtime runs an agent's process_task"
        ) from None


def optional_task() -> TaskContext | None:
    """Like :func:`current_task`, but ``None`` outside a running task."""
    return _current.get(None)
