"""The in-memory state store, for tests and for embedding without persistence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minds371.state._protocol import SagaStep, TaskRecord
from minds371.state._scrub import scrub_event, scrub_result, scrub_step
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus, utcnow

__all__ = ["MemoryStateStore"]


@dataclass(slots=True)
class _Entry:
    task: Task
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    last_seq: int = 0
    result: TaskResult | None = None
    events: list[TaskEvent] = field(default_factory=list)

    def record(self) -> TaskRecord:
        task = self.task
        if task.status is not self.status:
            task = task.model_copy(update={"status": self.status})
        return TaskRecord(
            task=task,
            status=self.status,
            attempts=self.attempts,
            last_seq=self.last_seq,
            result=self.result,
        )


class MemoryStateStore:
    """Keeps everything in dicts. Nothing survives the process."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._steps: dict[str, list[SagaStep]] = {}

    async def __aenter__(self) -> MemoryStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self) -> None:
        """Nothing to release."""

    async def create_task(self, task: Task) -> tuple[TaskRecord, bool]:
        """Store a new task, or return the known one."""
        known = self._entries.get(task.id)
        if known is not None:
            return known.record(), False
        entry = _Entry(task=task)
        self._entries[task.id] = entry
        return entry.record(), True

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None``."""
        entry = self._entries.get(task_id)
        return None if entry is None else entry.record()

    async def mark_running(self, task_id: str, event: TaskEvent) -> None:
        """Count an attempt, set running, append the event."""
        entry = self._entries[task_id]
        entry.status = TaskStatus.RUNNING
        entry.attempts += 1
        entry.last_seq = event.seq
        entry.events.append(scrub_event(event))

    async def append_event(self, event: TaskEvent) -> None:
        """Append a progress event (scrubbed of secrets)."""
        entry = self._entries[event.task_id]
        entry.last_seq = event.seq
        entry.events.append(scrub_event(event))

    async def finish(self, result: TaskResult, event: TaskEvent) -> None:
        """Store the result, the final status and the final event."""
        entry = self._entries[result.task_id]
        entry.status = result.status
        entry.result = scrub_result(result)
        entry.last_seq = event.seq
        entry.events.append(scrub_event(event))

    async def events(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        """Events after ``after_seq``."""
        entry = self._entries.get(task_id)
        return [] if entry is None else [e for e in entry.events if e.seq > after_seq]

    async def unfinished(self) -> list[TaskRecord]:
        """Pending and running tasks, oldest first."""
        found = [e.record() for e in self._entries.values() if not e.status.is_final]
        return sorted(found, key=lambda r: r.task.created_at)

    async def list_tasks(
        self,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
        limit: int = 100,
    ) -> list[TaskRecord]:
        """Tasks, newest first, filtered."""
        found = [
            e.record()
            for e in self._entries.values()
            if (statuses is None or e.status in statuses)
            and (agent_type is None or e.task.agent_type == agent_type)
        ]
        found.sort(key=lambda r: r.task.created_at, reverse=True)
        return found if limit < 0 else found[:limit]

    async def tasks_named(
        self,
        name: str,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks whose payload's ``name`` is ``name``, newest first, filtered."""
        found = [
            e.record()
            for e in self._entries.values()
            if e.task.payload.get("name") == name
            and (statuses is None or e.status in statuses)
            and (agent_type is None or e.task.agent_type == agent_type)
        ]
        found.sort(key=lambda r: r.task.created_at, reverse=True)
        return found

    async def record_step(self, task_id: str, name: str, data: Mapping[str, Any]) -> SagaStep:
        """Record a saga step (scrubbed of secrets)."""
        steps = self._steps.setdefault(task_id, [])
        step = SagaStep(
            task_id=task_id, seq=len(steps) + 1, name=name, data=scrub_step(data), at=utcnow()
        )
        steps.append(step)
        return step

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's steps."""
        return list(self._steps.get(task_id, ()))
