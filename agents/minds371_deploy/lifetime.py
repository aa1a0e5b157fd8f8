"""The lifetime policy: whether the watcher closes a deployment now, and why.

One engine decides for both rules a request can set (see ``docs/idle-and-ttl.md``):

* ``ttl``: the deployment lives ``ttl`` seconds from the moment its task finished;
* ``idle``: the deployment is closed once its activity counter (:mod:`._idle_probe`) has not
  changed for ``idle.after`` seconds.

The engine is pure: it is handed the time (Unix seconds, wall clock: a ttl and an idle time are
durations a person sets against the calendar, and they must hold across restarts, which a
monotonic clock does not) and what the probes observed, and it answers. The watcher keeps the
observations, journals them in the task's saga (:data:`IDLE_SEEN`) so that a restarted watcher
keeps the timer, and carries out the close.

Idleness is judged from successful probes only. The timer starts at the first count read and
starts again whenever the counts differ from the last ones read (up or down: a counter that went
back means a restart, which is not idleness either), or the endpoints change (a re-lease). A probe
that fails changes nothing: the deployment is never closed because it could not be asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from minds371.state import SagaStep

__all__ = ["IDLE_SEEN", "CloseNow", "IdleState", "LifetimePolicy"]

#: The saga step that journals an idle timer: ``dseq``, ``since`` (the last activity) and
#: ``counts`` (what the probe read then).
IDLE_SEEN = "deployment.idle_seen"


@dataclass(frozen=True, slots=True)
class CloseNow:
    """The decision to close a deployment.

    Attributes:
        reason: The close's reason, as journaled and listed: ``ttl`` or ``idle``.
        kind: The watcher's action: ``expired`` (ttl) or ``idle``.
        detail: Why, in words.
    """

    reason: Literal["ttl", "idle"]
    kind: Literal["expired", "idle"]
    detail: str


@dataclass(frozen=True, slots=True)
class IdleState:
    """A deployment's idle timer.

    Attributes:
        since: When activity was last seen (Unix seconds): the count changed, or was first read.
        counts: The counts read then, by endpoint.
    """

    since: float
    counts: Mapping[str, float] = field(default_factory=dict)

    def observe(self, now: float, counts: Mapping[str, float]) -> IdleState:
        """The timer after reading ``counts`` at ``now``: restarted if anything changed."""
        if dict(counts) == dict(self.counts):
            return self
        return IdleState(now, dict(counts))

    def to_step(self, dseq: int) -> dict[str, Any]:
        """The :data:`IDLE_SEEN` step's data."""
        return {"dseq": dseq, "since": self.since, "counts": dict(self.counts)}

    @classmethod
    def from_steps(cls, steps: Sequence[SagaStep], dseq: int) -> IdleState | None:
        """The last journaled timer of deployment ``dseq``, if any."""
        for step in reversed(steps):
            if step.name == IDLE_SEEN and step.data.get("dseq") == dseq:
                counts = step.data.get("counts") or {}
                return cls(float(step.data["since"]), {str(k): float(v) for k, v in counts.items()})
        return None


@dataclass(frozen=True, slots=True)
class LifetimePolicy:
    """When a deployment is closed: ``ttl`` and ``idle_after`` (seconds; ``None``: never).

    Attributes:
        ttl: Seconds from the task's finish after which the deployment is closed.
        idle_after: Seconds without activity after which it is closed.
    """

    ttl: int | None = None
    idle_after: int | None = None

    @classmethod
    def of(cls, request: Any) -> LifetimePolicy:
        """The policy of a :class:`~minds371_deploy.request.DeploymentRequest`."""
        idle = request.idle
        return cls(ttl=request.ttl, idle_after=None if idle is None else idle.after)

    def ttl_left(self, now: float, started: datetime | None) -> float | None:
        """Seconds until the ttl closes the deployment (negative once past); ``None``: no ttl."""
        if self.ttl is None or started is None:
            return None
        return self.ttl - (now - started.timestamp())

    def decide(
        self, now: float, started: datetime | None, idle: IdleState | None = None
    ) -> CloseNow | None:
        """Close now, and why; or ``None`` to keep it.

        Args:
            now: Unix seconds.
            started: When the deployment's task finished (the ttl counts from then).
            idle: Its idle timer after this pass's probe (``None``: not read, or no ``idle``).
        """
        left = self.ttl_left(now, started)
        if left is not None and left < 0:
            return CloseNow("ttl", "expired", f"closed after ttl {self.ttl}s")
        if self.idle_after is not None and idle is not None:
            quiet = now - idle.since
            if quiet >= self.idle_after:
                return CloseNow(
                    "idle",
                    "idle",
                    f"closed after {quiet:.0f}s without activity (idle after {self.idle_after}s)",
                )
        return None

    def journal_due(self, last: IdleState | None, now: IdleState, probed_at: float) -> bool:
        """Whether the timer ``now`` should be journaled, ``last`` being the journaled one.

        A busy service changes its count on every pass; journaling each would grow the saga
        without bound. A timer is written when there is none yet, and otherwise once a quarter
        of the idle time has passed since the journaled one's ``since``. That never closes early
        after a restart: a restarted watcher reads the journaled counts, and any difference from
        them counts as activity at once.
        """
        if last is None:
            return True
        if (last.since, dict(last.counts)) == (now.since, dict(now.counts)):
            return False
        return self.idle_after is not None and probed_at - last.since >= self.idle_after / 4
