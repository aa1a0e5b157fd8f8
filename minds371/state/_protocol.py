"""The state store contract: tasks, their events and results, and saga steps, durably."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus

__all__ = ["SagaStep", "StateStore", "TaskRecord"]


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """What the store knows of one task.

    Attributes:
        task: The task as dispatched.
        status: Its current status.
        attempts: How many times a worker has started it.
        last_seq: The ``seq`` of its newest event (0 when it has none).
        result: Its result once final.
    """

    task: Task
    status: TaskStatus
    attempts: int = 0
    last_seq: int = 0
    result: TaskResult | None = None


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One recorded step of a task's saga, written before the side effect it guards.

    Attributes:
        task_id: The task.
        seq: Order among the task's steps, from 1.
        name: The step (``"deployment.create_intent"``, ``"deployment.created"``).
        data: Facts needed to resume or compensate (a dseq, a version hash, ...).
        at: When it was recorded.
    """

    task_id: str
    seq: int
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@runtime_checkable
class StateStore(Protocol):
    """Durable (or, for tests and embedding, in-memory) state of a runtime.

    Every write method returns only once the write is durable, so a caller may record an intent and
    then perform the side effect it guards. A store is an async context manager.
    """

    async def __aenter__(self) -> StateStore: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def create_task(self, task: Task) -> tuple[TaskRecord, bool]:
        """Store a new task; if its id is known, return the stored record and ``False``."""
        ...

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The record of a task, or ``None``."""
        ...

    async def mark_running(self, task_id: str, event: TaskEvent) -> None:
        """Set a task running, count the attempt and append ``event``.

        Unlike the other writes, this one may return before it is durable (it is committed, in
        order, with the next write): losing it in a crash loses nothing, since a task found pending
        is run again just as one found running is.
        """
        ...

    async def append_event(self, event: TaskEvent) -> None:
        """Append a progress event (its ``seq`` must be the task's next)."""
        ...

    async def finish(self, result: TaskResult, event: TaskEvent) -> None:
        """Store a final result and status, and append the final ``event``, atomically."""
        ...

    async def events(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        """A task's events with ``seq > after_seq``, in order."""
        ...

    async def unfinished(self) -> list[TaskRecord]:
        """Every task that is pending or running, oldest first."""
        ...

    async def list_tasks(
        self,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
        limit: int = 100,
    ) -> list[TaskRecord]:
        """Tasks, newest first, optionally filtered; ``limit=-1`` for all."""
        ...

    async def tasks_named(
        self,
        name: str,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks whose payload's ``name`` is ``name``, newest first, optionally filtered.

        A deployment task looks for a running deployment of its request's name among the finished
        tasks: this finds them without reading every other task.
        """
        ...

    async def record_step(self, task_id: str, name: str, data: Mapping[str, Any]) -> SagaStep:
        """Durably record a saga step for a task."""
        ...

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's saga steps, in order."""
        ...
