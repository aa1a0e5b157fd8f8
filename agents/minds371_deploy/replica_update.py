"""In-place updates of replicas 2…N, the deployments of their own of a redundant service.

On Console's layout each replica is a deployment (:mod:`.replicas`). An in-place update
(:mod:`.update`) changes replica 1, the task's own deployment, where it runs; each further
replica that the previous task holds is updated where it runs too, with the replica's SDL of
the new request. Each one keeps its dseq, its lease, its provider, its endpoint and its escrow:
no new deposit, no new bids. Replicas the new request adds are deployed anew; those it drops
are closed once the update is recorded.

The ownership of an updated replica follows replica 1's. Once ready, the replica is journaled
as the new task's (a ``replica.created`` step), while the previous task still holds it too.
After the new task publishes its record, the previous task lets go of it: a ``replica.closed``
step with the reason ``handed over``, and nothing is closed on the network. If the update fails
first, each replica it changed gets its previous manifest back and the new task lets go of it
(``given back``), as replica 1 is given back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import anyio

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371.state import StateStore
from minds371_deploy.replicas import replica_sdl
from minds371_deploy.request import DeploymentRequest
from minds371_deploy.rollback import (
    interrupted_by_shutdown,
    previous_request,
    put_back,
    with_details,
)
from minds371_deploy.saga import (
    GIVEN_BACK,
    HANDED_OVER,
    REPLICA_CLOSED,
    ReplicaJournal,
    SagaState,
)

if TYPE_CHECKING:
    from minds371_akash.market import Deployment
    from minds371_deploy.agent import _Run
    from minds371_deploy.update import UpdatePlan

__all__ = [
    "give_back_replicas",
    "hand_over_replicas",
    "let_go_of_replicas",
    "replicas_also_held",
    "update_replicas_in_place",
]

_log = get_logger("minds371.deploy.update")


async def update_replicas_in_place(
    run: _Run, plan: UpdatePlan, marked_sdl_for: Callable[[DeploymentRequest], str]
) -> dict[int, Deployment]:
    """Update the previous task's replicas 2…N where they run; journal each as this task's.

    Replicas this task recorded in an earlier attempt are left to be resumed as its own.

    Returns:
        Replica number → the deployment as it became ready, for each replica updated now.

    Raises:
        MarketError: an update was refused or did not become ready; that replica got its
            previous manifest back (those updated before it are given back by the task's
            compensation).
    """
    assert plan.previous_task is not None
    store = run.task.store
    theirs = await _open_replicas(store, plan.previous_task)
    mine = SagaState.from_steps(await run.task.steps()).replicas
    updated: dict[int, Deployment] = {}
    for replica, dseq in sorted(theirs.items()):
        if replica > run.request.redundancy or replica in mine:
            continue  # dropped by this request (closed at the hand-over), or recorded before
        sdl = replica_sdl(run.marked_sdl, replica)
        prepared = run.akash.prepare(sdl)
        try:
            await run.akash.backend.update_deployment(dseq, sdl)
            await run.akash.emit(
                "deployment.updated",
                f"replica {replica}'s deployment {dseq} updated in place to manifest "
                f"{prepared.version[:12]}",
                dseq=dseq,
                version=prepared.version,
            )
            ready = await run.akash.wait_until_ready(dseq, prepared)
        except BaseException as exc:
            # A runtime that is stopping leaves the update for the next start to resume.
            if not interrupted_by_shutdown(run, exc):
                with anyio.CancelScope(shield=True):
                    await _put_back(run, plan, replica, dseq, with_details(exc), marked_sdl_for)
            raise
        await ReplicaJournal(run.task, replica).created(
            dseq=dseq, version=prepared.version, recovered=False
        )
        updated[replica] = ready
    return updated


async def give_back_replicas(
    run: _Run,
    plan: UpdatePlan,
    replicas: Mapping[int, int],
    exc: BaseException,
    marked_sdl_for: Callable[[DeploymentRequest], str],
) -> set[int]:
    """Undo the in-place update of the replicas the previous task still holds.

    Each gets its previous manifest back, and this task's journal lets go of it, so that its
    compensation closes none of them. Returns the replicas given back (the others in
    ``replicas`` are this task's own, to close).
    """
    assert plan.previous_task is not None
    theirs = await replicas_also_held(run.task.store, plan.previous_task, replicas)
    if not theirs:
        return set()
    previous = await previous_request(run.task.store, plan.previous_task)
    marked = None if previous is None else marked_sdl_for(previous)
    error = with_details(exc)
    for replica, dseq in sorted(theirs.items()):
        if marked is not None:
            await put_back(run.akash, dseq, replica_sdl(marked, replica), error, primary=False)
        await run.task.record_step(
            REPLICA_CLOSED,
            replica=replica,
            dseq=dseq,
            reason=GIVEN_BACK,
            to_task=plan.previous_task,
        )
    return set(theirs)


async def hand_over_replicas(run: _Run, old_task: str) -> None:
    """The previous task lets go of the replicas this task updated, and closes the others.

    The others are replicas this task did not take over (its request has fewer, or it deployed
    them anew): its own replicas serve instead, and are recorded. One that cannot be closed now
    is closed by the watcher's next pass (a task whose first deployment is no longer its own
    keeps no replicas).
    """
    store = run.task.store
    taken = await let_go_of_replicas(store, old_task, run.task.task.id)
    old = (await _open_replicas(store, old_task)).items()
    for replica, dseq in sorted((r, d) for r, d in old if r not in taken):
        try:
            # The backend directly: the task's own journal would record the close in this task.
            await run.akash.backend.close_deployment(dseq)
        except Minds371Error as exc:
            _log.warning("minds371.deploy.replaced_close_failed", dseq=dseq, error=exc.message)
            continue
        await store.record_step(
            old_task, REPLICA_CLOSED, {"replica": replica, "dseq": dseq, "reason": "replaced"}
        )
        await run.akash.emit(
            "deployment.replaced",
            f"replica {replica}'s deployment {dseq} closed: replaced",
            dseq=dseq,
        )


async def let_go_of_replicas(store: StateStore, old_task: str, new_task: str) -> set[int]:
    """Journal that ``old_task`` handed over the replicas ``new_task`` also holds; which."""
    old = await _open_replicas(store, old_task)
    taken = await replicas_also_held(store, new_task, old)
    for replica, dseq in sorted(taken.items()):
        await store.record_step(
            old_task,
            REPLICA_CLOSED,
            {"replica": replica, "dseq": dseq, "reason": HANDED_OVER, "to_task": new_task},
        )
    return set(taken)


async def replicas_also_held(
    store: StateStore, task_id: str, replicas: Mapping[int, int]
) -> dict[int, int]:
    """Those of ``replicas`` (replica → dseq) that ``task_id`` holds open too.

    An in-place update shares replicas between the task it came from and itself until one of
    them lets go (see module docs).
    """
    theirs = await _open_replicas(store, task_id)
    return {r: dseq for r, dseq in replicas.items() if theirs.get(r) == dseq}


async def _open_replicas(store: StateStore, task_id: str) -> dict[int, int]:
    return SagaState.from_steps(await store.steps(task_id)).open_replicas()


async def _put_back(
    run: _Run,
    plan: UpdatePlan,
    replica: int,
    dseq: int,
    exc: Minds371Error,
    marked_sdl_for: Callable[[DeploymentRequest], str],
) -> None:
    """Send replica ``replica``'s previous manifest back to its deployment ``dseq``."""
    assert plan.previous_task is not None
    previous = await previous_request(run.task.store, plan.previous_task)
    if previous is not None:
        sdl = replica_sdl(marked_sdl_for(previous), replica)
        await put_back(run.akash, dseq, sdl, exc, primary=False)
