"""The deployment saga: every step written to the state store before the side effect it guards.

Steps, in order (each a :class:`~minds371.state.SagaStep` of the task):

==========================  ============================================================
``deployment.create_intent``  about to create a deployment with manifest ``version``
``deployment.created``        it exists: ``dseq`` (``recovered`` if found after a failure), the
                              ``version`` the network recorded and the ``manifest`` it returned
``deployment.updated``        its SDL was updated: the new ``version`` and ``manifest``
``replica.*``                 the same steps for replica ``replica`` (2…N) of a Console-layout
                              redundant deployment (see :mod:`.redundancy`), each its own dseq
``lease.intent``              about to lease ``bids``
``lease.created``             leases exist (``providers``) and the manifest was sent
``deployment.closed``         it was closed (``reason``)
``deployment.finalized``      registered and reported: ``output`` is the task's result
==========================  ============================================================

A second attempt of the task reads them back (:class:`SagaState`) and, by asking the network,
resumes or compensates; it never creates a second deployment while the first is open. Resuming,
re-leasing and watching resend the journaled manifest, never one rebuilt here: Console builds
manifests by chain-sdk TypeScript's rules, and a provider accepts only the manifest that
re-hashes to the version on chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from minds371.agent import TaskContext
from minds371.state import SagaStep
from minds371_akash.market import Lease, LeaseId
from minds371_deploy._faults import crash_point

__all__ = ["ReplicaJournal", "ReplicaState", "SagaJournal", "SagaState"]

CREATE_INTENT = "deployment.create_intent"
CREATED = "deployment.created"
UPDATED = "deployment.updated"
LEASE_INTENT = "lease.intent"
LEASED = "lease.created"
CLOSED = "deployment.closed"
FINALIZED = "deployment.finalized"
REPLICA_INTENT = "replica.create_intent"
REPLICA_CREATED = "replica.created"
REPLICA_LEASED = "replica.leased"
REPLICA_UPDATED = "replica.updated"
REPLICA_CLOSED = "replica.closed"

#: Why an old task's deployment (or replica) left it for the task that updated it in place: the
#: reason of its ``deployment.closed`` (``replica.closed``) step.
HANDED_OVER = "handed over"
#: Why an updating task let go of a deployment (or replica) it updated, after a failure.
GIVEN_BACK = "given back"


@dataclass(slots=True)
class ReplicaState:
    """What the recorded steps say about one extra replica's deployment.

    Attributes:
        version: Manifest version of its last create intent.
        dseq: Its deployment, once known to exist.
        manifest: The manifest the network returned for it (what resends use).
        closed: It was closed (and why).
    """

    version: str | None = None
    dseq: int | None = None
    manifest: str | None = None
    closed: str | None = None

    @property
    def open_dseq(self) -> int | None:
        """The replica's deployment while it may still be open."""
        return None if self.closed is not None else self.dseq

    def apply(self, name: str, data: dict[str, Any]) -> None:
        """Fold one ``replica.*`` step into this state."""
        if name == REPLICA_INTENT:
            if self.closed is not None:
                self.dseq = self.manifest = self.closed = None
            self.version = str(data["version"])
        elif name == REPLICA_CREATED:
            self.dseq = int(data["dseq"])
            self.manifest = str(data.get("manifest") or "") or None
            self.version = str(data.get("version") or self.version or "") or None
        elif name == REPLICA_UPDATED and int(data["dseq"]) == self.dseq:
            self.manifest = str(data["manifest"])
        elif name == REPLICA_CLOSED and int(data["dseq"]) == self.dseq:
            self.closed = str(data.get("reason", "closed"))


@dataclass(slots=True)
class SagaState:
    """What the recorded steps say about a task's deployment.

    Attributes:
        version: Manifest version hash of the last create intent.
        dseq: The deployment, once known to exist.
        manifest: The manifest the network returned for it (at create, or the last update):
            what resume, re-lease and the watcher send.
        recorded_version: The version the network recorded for that manifest.
        leased: Providers leased so far.
        closed: The deployment was closed (and why).
        output: The task's result, once finalized.
        finalized_at: When it was finalized (the deployment's ``ttl`` counts from then).
        attempts_with_intent: How many create intents were recorded.
        replicas: The extra replicas' deployments (Console layout), by replica number.
    """

    version: str | None = None
    dseq: int | None = None
    manifest: str | None = None
    recorded_version: str | None = None
    leased: list[str] = field(default_factory=list)
    closed: str | None = None
    output: dict[str, Any] | None = None
    finalized_at: datetime | None = None
    attempts_with_intent: int = 0
    replicas: dict[int, ReplicaState] = field(default_factory=dict)

    @classmethod
    def from_steps(cls, steps: Sequence[SagaStep]) -> SagaState:
        """Fold the steps, in order, into the state they describe."""
        state = cls()
        for step in steps:
            data = step.data
            if step.name == CREATE_INTENT:
                state.version = str(data["version"])
                state.attempts_with_intent += 1
                if state.closed is not None:
                    # A fresh start after a compensated attempt.
                    state.dseq, state.leased, state.closed = None, [], None
                    state.manifest = state.recorded_version = None
                    state.replicas = {}
            elif step.name == CREATED:
                state.dseq = int(data["dseq"])
                state.manifest = str(data["manifest"]) if data.get("manifest") else None
                state.recorded_version = str(data.get("version") or "") or None
            elif step.name == UPDATED and int(data["dseq"]) == state.dseq:
                state.manifest = str(data["manifest"])
                state.recorded_version = str(data["version"])
            elif step.name == LEASED:
                state.leased.extend(str(p) for p in data.get("providers", ()))
            elif step.name == CLOSED:
                state.closed = str(data.get("reason", "closed"))
            elif step.name.startswith("replica."):
                replica = int(data["replica"])
                state.replicas.setdefault(replica, ReplicaState()).apply(step.name, dict(data))
            elif step.name == FINALIZED:
                state.output = dict(data["output"])
                state.finalized_at = step.at
        return state

    @property
    def open_dseq(self) -> int | None:
        """The deployment this task may still have open, if any."""
        return None if self.closed is not None else self.dseq

    def open_replicas(self) -> dict[int, int]:
        """Replica number → dseq of every extra replica that may still be open."""
        return {n: r.open_dseq for n, r in sorted(self.replicas.items()) if r.open_dseq is not None}


class SagaJournal:
    """A :class:`~minds371_akash.DeployJournal` that records each step in the task's state.

    Each ``before_*`` callback returns only once its record is durable, so the side effect after
    it is always known to a later attempt. Crash points (``MINDS371_CRASH_AT``) sit between every
    record and its side effect, for recovery tests.
    """

    def __init__(self, task: TaskContext) -> None:
        self._task = task

    async def before_create(self, *, version: str, sdl: str) -> None:
        """Record the intent to create, then (crash point) let the create happen."""
        await self._task.record_step(CREATE_INTENT, version=version)
        crash_point("deployment.before_create")

    async def created(
        self, *, dseq: int, version: str, recovered: bool, manifest: str = ""
    ) -> None:
        """Record the new deployment's dseq, and the manifest the create returned, at once."""
        crash_point("deployment.after_create")
        await self._task.record_step(
            CREATED, dseq=dseq, version=version, recovered=recovered, manifest=manifest
        )
        crash_point("deployment.created")

    async def updated(self, *, dseq: int, version: str, manifest: str) -> None:
        """Record the manifest an update put in force (resends use it from now on)."""
        await self._task.record_step(UPDATED, dseq=dseq, version=version, manifest=manifest)

    async def before_lease(self, *, dseq: int, bids: Sequence[LeaseId]) -> None:
        """Record the bids about to be leased."""
        await self._task.record_step(
            LEASE_INTENT,
            dseq=dseq,
            bids=[{"gseq": b.gseq, "oseq": b.oseq, "provider": b.provider} for b in bids],
        )
        crash_point("lease.before")

    async def leased(self, *, dseq: int, leases: Sequence[Lease]) -> None:
        """Record the leases once they exist and the manifest went out."""
        crash_point("lease.after")
        await self._task.record_step(
            LEASED, dseq=dseq, providers=[lease.id.provider for lease in leases]
        )
        crash_point("lease.created")

    async def closed(self, *, dseq: int, reason: str) -> None:
        """Record that the deployment was closed."""
        await self._task.record_step(CLOSED, dseq=dseq, reason=reason)

    async def finalized(self, output: dict[str, Any]) -> None:
        """Record the task's result: a later attempt returns it instead of redoing anything."""
        await self._task.record_step(FINALIZED, output=output)


class ReplicaJournal:
    """The saga callbacks of extra replica ``replica``: the same records, tagged with it."""

    def __init__(self, task: TaskContext, replica: int) -> None:
        self._task = task
        self._replica = replica

    async def before_create(self, *, version: str, sdl: str) -> None:
        """Record the intent to create the replica's deployment."""
        await self._task.record_step(REPLICA_INTENT, replica=self._replica, version=version)
        crash_point("replica.before_create")

    async def created(
        self, *, dseq: int, version: str, recovered: bool, manifest: str = ""
    ) -> None:
        """Record the replica's dseq and the manifest its create returned."""
        await self._task.record_step(
            REPLICA_CREATED,
            replica=self._replica,
            dseq=dseq,
            version=version,
            recovered=recovered,
            manifest=manifest,
        )
        crash_point("replica.created")

    async def before_lease(self, *, dseq: int, bids: Sequence[LeaseId]) -> None:
        """Nothing to record: a replica's lease is found again on its own deployment."""

    async def leased(self, *, dseq: int, leases: Sequence[Lease]) -> None:
        """Record the replica's leases."""
        await self._task.record_step(
            REPLICA_LEASED,
            replica=self._replica,
            dseq=dseq,
            providers=[lease.id.provider for lease in leases],
        )

    async def closed(self, *, dseq: int, reason: str) -> None:
        """Record that the replica's deployment was closed."""
        await self._task.record_step(
            REPLICA_CLOSED, replica=self._replica, dseq=dseq, reason=reason
        )

    async def updated(self, *, dseq: int, version: str, manifest: str) -> None:
        """Record the manifest an update put in force on the replica."""
        await self._task.record_step(
            REPLICA_UPDATED, replica=self._replica, dseq=dseq, version=version, manifest=manifest
        )
