"""The :class:`~minds371.tasks.TaskResult` of each way a task can end."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from minds371.errors import Minds371Error, NoAgentForTask, TaskCancelled
from minds371.logging import redact
from minds371.tasks import Task, TaskError, TaskResult, TaskStatus

__all__ = ["cancelled_result", "completed_result", "failed_result", "no_agent_result"]


def cancelled_result(task_id: str) -> TaskResult:
    return TaskResult(
        task_id=task_id,
        status=TaskStatus.CANCELLED,
        error=TaskError(type=TaskCancelled.__name__, message="the task was cancelled"),
    )


def completed_result(task_id: str, output: Any) -> TaskResult:
    if not isinstance(output, Mapping):
        return TaskResult(
            task_id=task_id,
            status=TaskStatus.FAILED,
            error=TaskError(
                type="ActionError",
                message=f"the agent returned {type(output).__name__}, not a dict",
            ),
        )
    try:
        jsonable = to_jsonable_python(dict(output))
    except PydanticSerializationError as exc:
        return TaskResult(
            task_id=task_id,
            status=TaskStatus.FAILED,
            error=TaskError(
                type="ActionError", message=f"the agent's output is not JSON-serialisable: {exc}"
            ),
        )
    return TaskResult(task_id=task_id, status=TaskStatus.COMPLETED, output=jsonable)


def failed_result(task_id: str, exc: Exception) -> TaskResult:
    if isinstance(exc, Minds371Error):
        structured = exc.to_dict()
    else:
        structured = {
            "type": type(exc).__name__,
            "message": str(exc) or type(exc).__name__,
            "details": {},
            "retryable": False,
        }
    with contextlib.suppress(PydanticSerializationError):
        structured["details"] = to_jsonable_python(structured["details"], fallback=repr)
    # Results travel to other agents: scrub them like log lines.
    structured["message"] = redact(structured["message"])
    structured["details"] = redact(structured["details"])
    return TaskResult(task_id=task_id, status=TaskStatus.FAILED, error=TaskError(**structured))


def no_agent_result(task: Task, served: list[str]) -> TaskResult:
    error = NoAgentForTask(
        f"no agent serves agent type {task.agent_type!r}; this runtime serves: "
        f"{', '.join(served) or 'none'}",
        details={"agent_type": task.agent_type, "served": served},
    )
    return TaskResult(task_id=task.id, status=TaskStatus.FAILED, error=TaskError(**error.to_dict()))
