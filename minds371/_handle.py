"""A dispatched task as its caller sees it: status, events as they come, and the result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from minds371._results import cancelled_result
from minds371.errors import RuntimeStopped
from minds371.state._scrub import new_event
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus

if TYPE_CHECKING:
    from minds371.runtime import AgentRuntime
    from minds371.state import TaskRecord

__all__ = ["TaskHandle"]


class TaskHandle:
    """A dispatched task: its status, its events and, in the end, its result."""

    def __init__(
        self, runtime: AgentRuntime, task: Task, *, last_seq: int = 0, attempts: int = 0
    ) -> None:
        self.task = task
        self._runtime = runtime
        self._status = task.status
        self._result: TaskResult | None = None
        self._ended = False  # a result arrived, or the runtime stopped
        # Created only when someone waits: most tasks are never watched, and events cost.
        self._changed: anyio.Event | None = None
        # Events before ``_live_from`` are read back from the store; later ones are kept here.
        self._live_from = last_seq + 1
        self._seq = last_seq
        self._attempts = attempts
        self._events: list[TaskEvent] = []
        self._scope: anyio.CancelScope | None = None
        self._in_progress = False
        self._cancel_requested = False

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    @property
    def status(self) -> TaskStatus:
        """The task's current status."""
        return self._status

    @property
    def done(self) -> bool:
        """Whether the task has reached a final status."""
        return self._result is not None

    async def result(self) -> TaskResult:
        """Wait for the task to end and return its result (bound the wait with ``fail_after``).

        Raises:
            RuntimeStopped: if the runtime stopped before the task ended (it will run again when a
                runtime starts on the same state).
        """
        while not self._ended:
            await self._wait_for_change()
        if self._result is None:
            raise RuntimeStopped(
                f"the runtime stopped before task {self.id} finished; it resumes when a runtime "
                "starts on the same state"
            )
        return self._result

    async def events(self) -> AsyncIterator[TaskEvent]:
        """Every event of the task in ``seq`` order: past ones first, then new ones as they come.

        The iteration ends after the task's final event (or when the runtime stops).
        """
        seq = 0
        if self._live_from > 1:
            for event in await self._runtime.store.events(self.id):
                if event.seq >= self._live_from:
                    break
                seq = event.seq
                yield event
        while True:
            start = max(0, seq - self._live_from + 1)
            for event in self._events[start:]:
                seq = event.seq
                yield event
            if self._ended and seq >= self._seq:
                return
            if seq >= self._seq:
                await self._wait_for_change()

    async def cancel(self) -> None:
        """Cancel the task and wait until it has ended (a finished task is left as it is).

        A pending task ends CANCELLED without running; a running task's agent sees the
        cancellation at its next checkpoint.
        """
        if self.done:
            return
        self._cancel_requested = True
        if self._scope is not None:
            self._scope.cancel()
        elif self._status is TaskStatus.PENDING:
            await self._runtime._finish(self, cancelled_result(self.id))
        while not self._ended:
            await self._wait_for_change()

    # -- used by the runtime ----------------------------------------------------------------------

    async def _wait_for_change(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _next_event(self, type: str, message: str, data: Mapping[str, Any]) -> TaskEvent:
        self._seq += 1
        # Followers of handle.events() are other agents: they see the event as the store keeps
        # it, scrubbed of secrets.
        event = new_event(self.id, self._seq, type, self._status, message, data)
        self._events.append(event)
        self._notify()
        return event

    def _catch_up(self, record: TaskRecord, newer: Sequence[TaskEvent]) -> None:
        """Bring this handle to what a shared store says now, keeping it the same object.

        Another process may have run the task meanwhile: its events (``newer``, those after
        this handle's last ``seq``, in order) join the live ones, so that a caller already
        waiting on this handle sees them and the next event number follows them.
        """
        for event in newer:
            if event.seq == self._seq + 1:
                self._events.append(event)
                self._seq = event.seq
        self.task = record.task
        self._status = record.status
        self._attempts = max(self._attempts, record.attempts)
        if record.result is not None:
            self._settle(record.result)
        else:
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def _settle(self, result: TaskResult) -> None:
        self._result = result
        self._status = result.status
        self._ended = True
        self._notify()

    def _interrupt(self) -> None:
        self._ended = True
        self._notify()
