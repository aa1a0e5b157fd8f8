"""Tasks and what comes out of them: the data that crosses the task bus and the state store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AgentType",
    "Task",
    "TaskError",
    "TaskEvent",
    "TaskResult",
    "TaskStatus",
    "utcnow",
]

_MAX_ID_LENGTH = 128


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class TaskStatus(StrEnum):
    """Where a task is in its life. ``completed``, ``failed`` and ``cancelled`` are final."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Whether the task has ended and will not change again."""
        return self in _FINAL


_FINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class AgentType(StrEnum):
    """The agent types minds371 ships. Any other string names a user's own agent type."""

    DEPLOYMENT = "deployment"


class Task(BaseModel):
    """A unit of work for one agent.

    Attributes:
        id: Unique id; dispatching a task whose id the runtime knows never runs it twice.
        description: Free text for humans.
        agent_type: Which agent serves it (an :class:`AgentType` or any user string).
        payload: The agent's input; the agent validates it.
        status: Where the task is in its life.
        created_at: When the task was made (UTC).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1)
    description: str = ""
    agent_type: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("id")
    @classmethod
    def _id_is_printable(cls, value: str) -> str:
        if len(value) > _MAX_ID_LENGTH or not value.isprintable() or value.strip() != value:
            raise ValueError(
                f"task id must be 1..{_MAX_ID_LENGTH} printable characters without "
                "leading or trailing whitespace"
            )
        return value


class TaskEvent(BaseModel):
    """One progress event of a task. ``seq`` is monotonic per task, starting at 1.

    Attributes:
        task_id: The task it belongs to.
        seq: Its position in the task's event stream.
        type: A dotted event name (``"task.started"``, ``"deployment.lease_created"``).
        status: The task's status when the event was emitted.
        message: One line for humans.
        data: Structured facts.
        at: When it happened (UTC).
    """

    model_config = ConfigDict(frozen=True)

    task_id: str
    seq: int = Field(ge=1)
    type: str
    status: TaskStatus
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)


class TaskError(BaseModel):
    """Why a task failed: structured, so another agent can act on it.

    Attributes:
        type: The exception's class name (``"NoBidsError"``).
        message: What went wrong and what to do.
        details: Structured facts (field issues, diagnosis, ...).
        retryable: Whether dispatching the task again may succeed.
    """

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    retryable: bool = False


class TaskResult(BaseModel):
    """The final outcome of a task.

    Attributes:
        task_id: The task it belongs to.
        status: ``completed``, ``failed`` or ``cancelled``.
        output: What the agent returned (empty unless completed).
        error: Why it failed or was cancelled (``None`` when completed).
    """

    model_config = ConfigDict(frozen=True)

    task_id: str
    status: TaskStatus
    output: dict[str, Any] = Field(default_factory=dict)
    error: TaskError | None = None
