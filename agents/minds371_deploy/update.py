"""Deploying a name that already runs: an update, not a second paid deployment.

Before a deployment task spends anything it looks, in its state store, for a deployment of the
same ``name`` on the same ``network`` that a finished task holds open. Then:

* ``in_place``: the new SDL has the same groups (resources, placement, prices) and only the
  manifest differs (image, env, command, ports): the deployment is updated where it runs (Console
  ``PUT /v1/deployments/{dseq}``, or ``akash tx deployment update`` and then the manifest to every
  lease's provider). A deployment's groups are fixed for its life: ``MsgUpdateDeployment``
  carries only the deployment id and the new version hash (chain-sdk, proto
  ``akash/deployment/v1beta4``), and a provider checks a manifest against the lease's group, so
  nothing else can change in place. Once every service is ready again, the new task publishes
  the next record and then takes the deployment over (the old task's saga records the
  hand-over). Until then the old task keeps it: an update that fails after it was ready (its
  record cannot be published, it is cancelled) puts the previous manifest back and gives the
  deployment back to the old task, never closes it (:func:`give_back`). On Console's layout,
  replicas 2…N (deployments of their own) are updated in place the same way
  (:mod:`.replica_update`).
* ``replace``: the groups differ: a new deployment is made as usual; once it is ready and
  registered (the name's record now points at it), the old one is closed.
* ``new``: nothing of this name runs, or the request says ``if_running: new``
  (``minds371 deploy --new``).

The plan is recorded as the task's first saga step, so a task that runs again after a crash
carries on with the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from minds371.agent import TaskContext
from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371.state import SagaStep, StateStore
from minds371.tasks import AgentType, TaskStatus
from minds371_deploy.building.journal import as_deployed
from minds371_deploy.replica_update import hand_over_replicas, let_go_of_replicas
from minds371_deploy.request import DeploymentRequest, parse_request
from minds371_deploy.rollback import (
    interrupted_by_shutdown,
    previous_request,
    put_back,
    with_details,
)
from minds371_deploy.saga import CLOSED, CREATED, GIVEN_BACK, HANDED_OVER, SagaState

if TYPE_CHECKING:
    from minds371_akash.market import Deployment
    from minds371_deploy.agent import DeploymentAgent, _Run

__all__ = [
    "GIVEN_BACK",
    "HANDED_OVER",
    "PLANNED",
    "UpdatePlan",
    "give_back",
    "hand_over",
    "hand_over_after_a_crash",
    "held_by",
    "interrupted_by_shutdown",
    "plan_update",
    "recorded_plan",
    "retire_replaced",
    "running_deployment",
    "update_in_place",
]

_log = get_logger("minds371.deploy.update")

#: The saga step that records the plan (``kind``, ``previous_task``, ``previous_dseq``).
PLANNED = "deployment.planned"

Kind = Literal["new", "in_place", "replace"]


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """What a deployment task does about a deployment of the same name that already runs.

    Attributes:
        kind: ``new``, ``in_place`` or ``replace`` (see module docs).
        previous_task: The task that holds the running deployment.
        previous_dseq: The running deployment.
        reason: Why this kind, in words.
    """

    kind: Kind = "new"
    previous_task: str | None = None
    previous_dseq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The plan as the task's output reports it."""
        return {
            "kind": self.kind,
            "previous_dseq": None if self.previous_dseq is None else str(self.previous_dseq),
            "previous_task": self.previous_task,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class _Running:
    task_id: str
    dseq: int
    request: DeploymentRequest


async def running_deployment(
    store: StateStore, name: str, network: str, *, exclude: str
) -> _Running | None:
    """The newest deployment of ``name`` on ``network`` that a finished task holds open."""
    # The payload is the request, and a task's output names its request's name (`_output.py`),
    # which validation never rewrites: the store finds the name's tasks by their payload, without
    # reading every other service's tasks and journals.
    records = await store.tasks_named(
        name, statuses=(TaskStatus.COMPLETED,), agent_type=AgentType.DEPLOYMENT
    )
    found: list[tuple[Any, _Running]] = []
    for record in records:
        if record.task.id == exclude or record.task.payload.get("name") != name:
            continue
        state = SagaState.from_steps(await store.steps(record.task.id))
        output = state.output or {}
        if state.open_dseq is None or output.get("name") != name:
            continue
        if output.get("network") != network:
            continue
        try:
            request = parse_request(record.task.payload)
            request = await as_deployed(store, record.task.id, request)  # a built image
        except Minds371Error:
            continue
        request = request.model_copy(update={"task_id": record.task.id})
        found.append((state.finalized_at, _Running(record.task.id, state.open_dseq, request)))
    if not found:
        return None
    found.sort(key=lambda item: (item[0] is not None, item[0]))
    return found[-1][1]


async def plan_update(
    agent: DeploymentAgent, task: TaskContext, request: DeploymentRequest
) -> UpdatePlan:
    """The task's plan: the one it recorded, or a new one (recorded before anything is spent)."""
    recorded = recorded_plan(await task.steps())
    if recorded is not None:
        return recorded
    plan = await _decide(agent, task, request)
    await task.record_step(
        PLANNED,
        kind=plan.kind,
        previous_task=plan.previous_task,
        previous_dseq=plan.previous_dseq,
        reason=plan.reason,
    )
    return plan


def recorded_plan(steps: Sequence[SagaStep]) -> UpdatePlan | None:
    """The plan a task's saga recorded (its ``deployment.planned`` step), if any."""
    for step in steps:
        if step.name == PLANNED:
            data = step.data
            dseq = data.get("previous_dseq")
            return UpdatePlan(
                kind=data["kind"],
                previous_task=data.get("previous_task"),
                previous_dseq=None if dseq is None else int(dseq),
                reason=str(data.get("reason", "")),
            )
    return None


async def _decide(
    agent: DeploymentAgent, task: TaskContext, request: DeploymentRequest
) -> UpdatePlan:
    if request.if_running == "new":
        return UpdatePlan("new", reason="a new deployment was asked for")
    running = await running_deployment(
        task.store, request.name, request.network, exclude=task.task.id
    )
    while running is not None and not await _still_runs(agent, task.store, running):
        running = await running_deployment(
            task.store, request.name, request.network, exclude=task.task.id
        )
    if running is None:
        return UpdatePlan("new", reason=f"no deployment of {request.name} runs")
    if _groups(agent._sdl_for(running.request)) == _groups(agent._sdl_for(request)):
        return UpdatePlan(
            "in_place",
            running.task_id,
            running.dseq,
            "only the manifest changes: the deployment is updated where it runs",
        )
    return UpdatePlan(
        "replace",
        running.task_id,
        running.dseq,
        "the resources or placement change, which a deployment cannot do in place: a new "
        "one takes over once it is ready",
    )


async def _still_runs(agent: DeploymentAgent, store: StateStore, running: _Running) -> bool:
    """Whether the network still runs it; if not (closed by hand, forgotten), its task says so.

    Raises:
        MarketError: the network could not be asked (nothing is spent before it can).
    """
    from minds371_akash.market import NotFound

    async with agent.backends.backend(running.request.network) as backend:
        try:
            deployment = await backend.get_deployment(running.dseq)
        except NotFound:
            reason = "gone"
        else:
            if deployment.active:
                return True
            reason = "closed"
    await store.record_step(running.task_id, CLOSED, {"dseq": running.dseq, "reason": reason})
    return False


def _groups(sdl: str) -> Any:
    from minds371_akash.sdl import build_manifest, parse_sdl

    return build_manifest(parse_sdl(sdl)).group_specs


async def update_in_place(
    run: _Run, plan: UpdatePlan, sdl_for: Callable[[DeploymentRequest], str]
) -> Deployment | None:
    """Update the running deployment to this task's SDL, wait for it, then journal it as held.

    The old task keeps the deployment until this task has published its record
    (:func:`hand_over`), so a failed update leaves it where it was (owned, watched, recorded)
    and closes nothing; its previous manifest is sent back (``details["rolled_back"]`` on the
    error says whether that worked).

    Returns:
        The deployment as it became ready, when this call updated it (the task goes on from
        there without sending its manifest again); ``None`` when an earlier attempt of the task
        had already taken it over (the task resumes it).

    Raises:
        BudgetExceeded: the request's budget does not allow the deployment's prices.
        MarketError: the update was refused or did not become ready (with a diagnosis).
    """
    assert plan.previous_dseq is not None
    assert plan.previous_task is not None
    dseq, akash = plan.previous_dseq, run.akash
    state = SagaState.from_steps(await run.task.steps())
    ready: Deployment | None = None
    if state.open_dseq != dseq:  # not yet taken over (a first run, or a crash before it)
        prepared = akash.prepare(run.sdl)
        await akash.check_budget(prepared)
        try:
            await akash.backend.update_deployment(dseq, run.sdl)
            await akash.emit(
                "deployment.updated",
                f"deployment {dseq} updated in place to manifest {prepared.version[:12]}",
                dseq=dseq,
                version=prepared.version,
            )
            ready = await akash.wait_until_ready(dseq, prepared)
        except BaseException as exc:
            # A runtime that is stopping leaves the update for the next start to resume.
            if not interrupted_by_shutdown(run, exc):
                with anyio.CancelScope(shield=True):
                    await _roll_back(run, plan, with_details(exc), sdl_for)
            raise
        await run.task.record_step(CREATED, dseq=dseq, version=prepared.version, recovered=False)
    return ready


async def _roll_back(
    run: _Run,
    plan: UpdatePlan,
    exc: Minds371Error,
    sdl_for: Callable[[DeploymentRequest], str],
) -> None:
    """Put the previous manifest back after a failed in-place update (it served before)."""
    assert plan.previous_dseq is not None
    assert plan.previous_task is not None
    previous = await previous_request(run.task.store, plan.previous_task)
    if previous is not None:
        await put_back(run.akash, plan.previous_dseq, sdl_for(previous), exc)


async def hand_over(run: _Run, plan: UpdatePlan) -> None:
    """The old task lets go of the deployment this task updated in place and recorded.

    Replicas of their own (Console's layout, a deployment per replica) follow: the old task lets
    go of those this task updated in place too, and closes the others (see
    :mod:`.replica_update`). Replicas first: a task whose first deployment is no longer its
    own keeps no replicas (the watcher closes them).
    """
    assert plan.previous_dseq is not None
    assert plan.previous_task is not None
    await hand_over_replicas(run, plan.previous_task)
    await _let_go(run.task.store, plan.previous_task, plan.previous_dseq, run.task.task.id)


async def _let_go(store: StateStore, old_task: str, dseq: int, new_task: str) -> None:
    """Journal that ``old_task`` handed ``dseq`` over to ``new_task``, if it still holds it."""
    if await held_by(store, old_task, dseq):
        await store.record_step(
            old_task, CLOSED, {"dseq": dseq, "reason": HANDED_OVER, "to_task": new_task}
        )


async def hand_over_after_a_crash(task: TaskContext, state: SagaState) -> None:
    """Hand over what a task that finished its update, then crashed before handing over, holds.

    Called when a task resumes with its output journaled (nothing is redone). The replicas it
    updated in place are let go of first; the old task's others are left to the watcher, which
    closes the replicas of a task whose first deployment is no longer its own.
    """
    plan = recorded_plan(await task.steps())
    if plan is None or plan.kind != "in_place" or plan.previous_task is None:
        return
    await let_go_of_replicas(task.store, plan.previous_task, task.task.id)
    if state.open_dseq is not None:
        await _let_go(task.store, plan.previous_task, state.open_dseq, task.task.id)


async def give_back(
    run: _Run, plan: UpdatePlan, exc: BaseException, sdl_for: Callable[[DeploymentRequest], str]
) -> bool:
    """Undo an in-place update that failed after it was ready, if the old task still holds it.

    The deployment ran before this task: its previous manifest is put back
    (``details["rolled_back"]`` on a :class:`Minds371Error` says whether that worked), and this
    task's journal lets go of it, so that nothing closes it. Returns False, doing nothing, when
    the old task had already handed it over (it is this task's to close).
    """
    assert plan.previous_dseq is not None
    assert plan.previous_task is not None
    if not await held_by(run.task.store, plan.previous_task, plan.previous_dseq):
        return False
    await _roll_back(run, plan, with_details(exc), sdl_for)
    await run.task.record_step(
        CLOSED, dseq=plan.previous_dseq, reason=GIVEN_BACK, to_task=plan.previous_task
    )
    return True


async def held_by(store: StateStore, task_id: str, dseq: int) -> bool:
    """Whether ``task_id``'s saga still holds deployment ``dseq`` open."""
    return SagaState.from_steps(await store.steps(task_id)).open_dseq == dseq


async def retire_replaced(run: _Run, plan: UpdatePlan) -> dict[str, Any]:
    """Close the deployment (and replicas) this task's new one replaced; its record moved.

    A failure to close is reported in the result, not raised: the new deployment is up and
    recorded, and the old one stays listed (``minds371 list``) and watched until closed.
    """
    assert plan.previous_dseq is not None
    assert plan.previous_task is not None
    dseq, store = plan.previous_dseq, run.task.store
    state = SagaState.from_steps(await store.steps(plan.previous_task))
    if state.open_dseq != dseq:
        return {"dseq": str(dseq), "closed": True}
    try:
        # The backend directly: the task's own journal would record the close in this task.
        await run.akash.backend.close_deployment(dseq)
    except Minds371Error as exc:
        _log.warning("minds371.deploy.replaced_close_failed", dseq=dseq, error=exc.message)
        return {"dseq": str(dseq), "closed": False, "error": exc.message}
    await store.record_step(
        plan.previous_task,
        CLOSED,
        {"dseq": dseq, "reason": "replaced", "by_task": run.task.task.id},
    )
    await run.akash.emit("deployment.replaced", f"deployment {dseq} closed: replaced", dseq=dseq)
    await hand_over_replicas(run, plan.previous_task)
    return {"dseq": str(dseq), "closed": True}
