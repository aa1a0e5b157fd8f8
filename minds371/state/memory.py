"""The in-memory state store, for tests and for embedding without persistence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from minds371.state._protocol import SagaStep, TaskRecord
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus, utcnow

__all__ = ["MemoryStateStore"]


class MemoryStateStore:
    """Keeps everything in dicts. Nothing survives the process."""

    def __init__(self) -> None:
        self._records: dict[str, TaskRecord] = {}
        self._events: dict[str, list[TaskEvent]] = {}
        self._steps: dict[str, list[SagaStep]] = {}

    async def __aenter__(self) -> MemoryStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self) -> None:
        """Nothing to release."""

    async def create_task(self, task: Task) -> tuple[TaskRecord, bool]:
        """Store a new task, or return the known one."""
        known = self._records.get(task.id)
        if known is not None:
            return known, False
        record = TaskRecord(task=task, status=TaskStatus.PENDING)
        self._records[task.id] = record
        self._events[task.id] = []
        return record, True

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None``."""
        return self._records.get(task_id)

    async def mark_running(self, task_id: str, event: TaskEvent) -> int:
        """Count an attempt, set running, append the event."""
        record = self._records[task_id]
        attempts = record.attempts + 1
        self._records[task_id] = replace(
            record, status=TaskStatus.RUNNING, attempts=attempts, last_seq=event.seq
        )
        self._events[task_id].append(event)
        return attempts

    async def append_event(self, event: TaskEvent) -> None:
        """Append a progress event."""
        record = self._records[event.task_id]
        self._records[event.task_id] = replace(record, last_seq=event.seq)
        self._events[event.task_id].append(event)

    async def finish(self, result: TaskResult, event: TaskEvent) -> None:
        """Store the result, the final status and the final event."""
        record = self._records[result.task_id]
        self._records[result.task_id] = replace(
            record, status=result.status, result=result, last_seq=event.seq
        )
        self._events[result.task_id].append(event)

    async def events(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        """Events after ``after_seq``."""
        return [e for e in self._events.get(task_id, ()) if e.seq > after_seq]

    async def unfinished(self) -> list[TaskRecord]:
        """Pending and running tasks, oldest first."""
        found = [r for r in self._records.values() if not r.status.is_final]
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
            r
            for r in self._records.values()
            if (statuses is None or r.status in statuses)
            and (agent_type is None or r.task.agent_type == agent_type)
        ]
        found.sort(key=lambda r: r.task.created_at, reverse=True)
        return found[:limit]

    async def record_step(self, task_id: str, name: str, data: Mapping[str, Any]) -> SagaStep:
        """Record a saga step."""
        steps = self._steps.setdefault(task_id, [])
        step = SagaStep(
            task_id=task_id, seq=len(steps) + 1, name=name, data=dict(data), at=utcnow()
        )
        steps.append(step)
        return step

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's steps."""
        return list(self._steps.get(task_id, ()))
