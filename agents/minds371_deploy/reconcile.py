"""Reconcile: after a crash, bring every deployment task and the network back into agreement.

Starting a runtime on the state re-runs every unfinished deployment task, and the agent resumes
each from its saga (lease exists: send the manifest again, wait, finalize; created but not
recorded: found by its manifest hash and adopted). :func:`reconcile` does that, waits for those
tasks, and then compensates what no task owns any more: a deployment still open on the network
whose task has failed or was cancelled is closed, unless that task updated it in place and the
task it came from still holds it (the service ran before the update: the failed task lets go).
One the network answers 404 for is gone (never committed, or lost with a sandbox's unsaved
state): nothing is open, nothing is paid, so it is recorded closed rather than retried on every
run. Either way the domain record of such a task is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371.runtime import AgentRuntime
from minds371.state import SagaStep, StateStore
from minds371.tasks import AgentType, TaskStatus
from minds371_akash.market import NotFound
from minds371_deploy._plugin import agent_for
from minds371_deploy._retire import retire_record
from minds371_deploy.domains.records import release_domain
from minds371_deploy.replica_update import replicas_also_held
from minds371_deploy.saga import CLOSED, REPLICA_CLOSED, SagaState
from minds371_deploy.update import GIVEN_BACK, held_by, recorded_plan

__all__ = ["reconcile"]

_log = get_logger("minds371.deploy.reconcile")


async def reconcile(runtime: AgentRuntime | None = None) -> dict[str, Any]:
    """Resume interrupted deployment tasks, then close deployments no task owns.

    Args:
        runtime: A runtime not yet started (default: one over ``$MINDS371_HOME``).

    Returns:
        ``{"resumed": [...], "failed": [...], "closed": [...]}``, one entry per task.
    """
    report: dict[str, list[dict[str, Any]]] = {"resumed": [], "failed": [], "closed": []}
    async with runtime or AgentRuntime() as running:
        for handle in running.recovered:
            if handle.task.agent_type != AgentType.DEPLOYMENT:
                continue
            result = await handle.result()
            entry = {
                "task_id": handle.id,
                "status": result.status.value,
                "dseq": result.output.get("dseq"),
                "error": result.error.message if result.error else None,
            }
            key = "resumed" if result.status is TaskStatus.COMPLETED else "failed"
            report[key].append(entry)
        report["closed"] = await _close_orphans(running)
    return report


async def _close_orphans(runtime: AgentRuntime) -> list[dict[str, Any]]:
    closed: list[dict[str, Any]] = []
    finished = await runtime.store.list_tasks(
        statuses=(TaskStatus.FAILED, TaskStatus.CANCELLED),
        agent_type=AgentType.DEPLOYMENT,
        limit=-1,
    )
    agent = agent_for(runtime)
    for record in finished:
        steps = await runtime.store.steps(record.task.id)
        state = SagaState.from_steps(steps)
        network = str(record.task.payload.get("network", "sandbox"))
        given_back = await _replicas_of_the_updated(runtime.store, steps, state.open_replicas())
        for replica, replica_dseq in state.open_replicas().items():
            if replica in given_back:
                # Updated in place from a task that still holds it: it ran before. Never closed.
                await runtime.store.record_step(
                    record.task.id,
                    REPLICA_CLOSED,
                    {
                        "replica": replica,
                        "dseq": replica_dseq,
                        "reason": GIVEN_BACK,
                        "to_task": given_back[replica],
                    },
                )
                continue
            # Replicas of a Console-layout redundant task are deployments of their own.
            if reason := await _close(agent, network, replica_dseq):
                await runtime.store.record_step(
                    record.task.id,
                    REPLICA_CLOSED,
                    {"replica": replica, "dseq": replica_dseq, "reason": reason},
                )
                closed.append(
                    {
                        "task_id": record.task.id,
                        "dseq": str(replica_dseq),
                        "network": network,
                        "reason": reason,
                    }
                )
        dseq = state.open_dseq
        if dseq is None:
            # Closed already: a domain record its compensation could not remove goes now.
            await release_domain(runtime.store, record.task.id, agent._dns_or_none(), "reconcile")
            continue
        previous_task = await _updated_from_holder(runtime.store, steps, dseq)
        if previous_task is not None:
            # An in-place update that failed before it could give the deployment back: it ran
            # before the update, and the task it came from still holds it. Never an orphan.
            await runtime.store.record_step(
                record.task.id,
                CLOSED,
                {"dseq": dseq, "reason": GIVEN_BACK, "to_task": previous_task},
            )
            continue
        reason = await _close(agent, network, dseq)
        if reason is None:
            continue
        await _record_closed(runtime.store, record.task.id, dseq, reason)
        name = str(record.task.payload.get("name", ""))
        await retire_record(agent._registry_factory, name, dseq, "reconcile")
        await release_domain(runtime.store, record.task.id, agent._dns_or_none(), "reconcile")
        closed.append(
            {"task_id": record.task.id, "dseq": str(dseq), "network": network, "reason": reason}
        )
    return closed


async def _close(agent: Any, network: str, dseq: int) -> str | None:
    """Close ``dseq`` if it is still active; why it is closed now, or None if unknown.

    ``"reconcile"``: closed here (or found closed); ``"gone"``: the network answers 404 for a
    deployment this task created, so nothing is open; ``None``: the network could not be asked.
    """
    try:
        async with agent.backends.backend(network) as backend:
            try:
                deployment = await backend.get_deployment(dseq)
            except NotFound:
                return "gone"
            if deployment.active:
                with anyio.CancelScope(shield=True):
                    await backend.close_deployment(dseq)
    except Minds371Error as exc:
        _log.error("minds371.deploy.orphan_close_failed", dseq=dseq, error=exc.message)
        return None
    return "reconcile"


async def _record_closed(store: StateStore, task_id: str, dseq: int, reason: str) -> None:
    await store.record_step(task_id, CLOSED, {"dseq": dseq, "reason": reason})


async def _replicas_of_the_updated(
    store: StateStore, steps: Sequence[SagaStep], replicas: dict[int, int]
) -> dict[int, str]:
    """Which of these open replicas the task it updated in place from still holds (→ that task)."""
    plan = recorded_plan(steps)
    if plan is None or plan.kind != "in_place" or plan.previous_task is None:
        return {}
    held = await replicas_also_held(store, plan.previous_task, replicas)
    return dict.fromkeys(held, plan.previous_task)


async def _updated_from_holder(
    store: StateStore, steps: Sequence[SagaStep], dseq: int
) -> str | None:
    """The task that still holds ``dseq``, if these steps' task updated it in place from there."""
    plan = recorded_plan(steps)
    if plan is None or plan.kind != "in_place" or plan.previous_task is None:
        return None
    if plan.previous_dseq != dseq or not await held_by(store, plan.previous_task, dseq):
        return None
    return plan.previous_task
