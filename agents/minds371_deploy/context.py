"""DeploymentContext: what one deployment run did, step by step, and how long it took."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from minds371.tasks import utcnow

__all__ = ["DeploymentContext", "DeploymentStatus", "StepRecord"]


class DeploymentStatus(StrEnum):
    """Where a deployment run is."""

    PENDING = "pending"
    BUILDING = "building"
    PROVISIONING = "provisioning"
    CONFIGURING = "configuring"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepRecord(BaseModel):
    """One step of a run: its name, when it started and ended, and what it produced.

    Attributes:
        name: The step (``"provision_and_deploy"``).
        started_at: When it began.
        ended_at: When it ended (``None`` while running).
        ok: Whether it succeeded (``None`` while running).
        detail: A one-line summary.
        data: Structured facts (dseq, providers, endpoints, ...).
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    ok: bool | None = None
    detail: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        """How long the step took, once ended."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class DeploymentContext(BaseModel):
    """The running record of one deployment task.

    Attributes:
        task_id: The task being served.
        status: Where the run is.
        start_time: When the run began.
        end_time: When it ended.
        steps: Every step so far, in order.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    task_id: str
    status: DeploymentStatus = DeploymentStatus.PENDING
    start_time: datetime = Field(default_factory=utcnow)
    end_time: datetime | None = None
    steps: list[StepRecord] = Field(default_factory=list)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once ended."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def begin(self, name: str, status: DeploymentStatus | None = None) -> StepRecord:
        """Start a step (and move to ``status`` when given)."""
        if status is not None:
            self.status = status
        step = StepRecord(name=name)
        self.steps.append(step)
        return step

    def end(self, step: StepRecord, *, ok: bool, detail: str = "", **data: Any) -> None:
        """End a step with its outcome."""
        step.ended_at = utcnow()
        step.ok = ok
        step.detail = detail
        step.data.update(data)

    def close(self, status: DeploymentStatus) -> None:
        """End the run."""
        self.status = status
        self.end_time = utcnow()

    def summary(self) -> dict[str, Any]:
        """The run as JSON-ready data (status, times, duration, steps)."""
        return {
            "status": self.status.value,
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "duration_seconds": self.duration,
            "steps": [
                {
                    "name": s.name,
                    "ok": s.ok,
                    "seconds": s.seconds,
                    "detail": s.detail,
                }
                for s in self.steps
            ],
        }
