"""Replicas 2…N of a redundant workload on Console: one single-group deployment each.

Replica 1 is the task's own deployment (the saga's ``deployment.*`` steps); each further replica
is a deployment of its own, journaled under ``replica.*`` steps (:class:`~.saga.ReplicaJournal`)
and leased from a provider no other replica uses. Why: see :mod:`.redundancy`. Creating,
resuming after a crash (by the journaled dseq and manifest, or an interrupted create found by its
version) and closing are each done replica by replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from minds371.agent import TaskContext
from minds371.errors import LeaseError, Minds371Error
from minds371.logging import get_logger
from minds371_akash import AkashIntegrationProvider, Budget, DeploymentResult, EventHook
from minds371_akash.market import Deployment
from minds371_deploy.redundancy import with_replica_marker
from minds371_deploy.request import DeploymentRequest
from minds371_deploy.saga import ReplicaJournal, ReplicaState, SagaState

__all__ = ["close_replicas", "deploy_replicas", "replica_sdl", "replica_summary"]

_log = get_logger("minds371.deploy.replicas")


def replica_sdl(base: str, replica: int) -> str:
    """The SDL of replica ``replica`` (1-based) of a task whose marked SDL is ``base``."""
    return with_replica_marker(base, replica)


def _remaining(budget: Budget, spent: Decimal) -> Budget:
    """The budget left for the next replica once ``spent`` uact/block is leased."""
    if budget.max_price_per_block is None:
        return budget
    left = budget.max_price_per_block - spent
    if left <= 0:
        left = Decimal("0.000001")  # every bid is then over budget: refused before leasing
    return budget.model_copy(update={"max_price_per_block": left})


def _price(result: DeploymentResult) -> Decimal:
    return sum((lease.price.amount for lease in result.leases), Decimal(0))


def _providers(result: DeploymentResult) -> set[str]:
    return {lease.id.provider for lease in result.leases}


async def _one(
    akash: AkashIntegrationProvider,
    journal: ReplicaJournal,
    request: DeploymentRequest,
    sdl: str,
    state: ReplicaState | None,
    avoid: Iterable[str],
) -> DeploymentResult:
    """Deploy (or resume) one replica, from what its steps say."""
    dseq = state.open_dseq if state is not None else None
    if dseq is None and state is not None and state.version and state.closed is None:
        # The create's answer was lost: find it by the version the network recorded.
        found = sorted(await akash.backend.find_deployments(state.version), key=lambda d: d.dseq)
        if found:
            keep, *extra = found
            prepared = akash.prepare(sdl)
            manifest = prepared.manifest if prepared.version == state.version else ""
            await journal.created(
                dseq=keep.dseq, version=state.version, recovered=True, manifest=manifest
            )
            for duplicate in extra:
                await akash.close(duplicate.dseq, reason="duplicate")
            dseq = keep.dseq
            state.manifest = manifest or None
    if dseq is not None:
        deployment = await akash.status(dseq)
        if not deployment.active:
            await journal.closed(dseq=dseq, reason="found closed")
            raise LeaseError(
                f"replica deployment {dseq} was closed while the task was interrupted",
                details={"dseq": dseq},
                retryable=True,
            )
        journaled = state.manifest if state is not None else None
        return await akash.resume(dseq, sdl, avoid_providers=avoid, manifest=journaled)
    return await akash.deploy(sdl, deposit=request.deposit_uact, avoid_providers=avoid)


async def deploy_replicas(
    base: AkashIntegrationProvider,
    task: TaskContext,
    request: DeploymentRequest,
    marked_sdl: str,
    first: DeploymentResult,
    *,
    on_event: EventHook | None = None,
    bid_timeout: float,
    ready_timeout: float,
    updated: Mapping[int, Deployment] | None = None,
) -> list[DeploymentResult]:
    """Deploy or resume replicas 2…``request.redundancy``, each on a provider of its own.

    Args:
        base: The provider replica 1 was deployed with (its backend and policy are reused).
        task: The task whose saga records the replicas' steps.
        request: The deployment request.
        marked_sdl: The task's SDL with its task marker (without a replica marker).
        first: Replica 1's outcome.
        on_event: Progress events.
        bid_timeout: Seconds to wait for bids per replica.
        ready_timeout: Seconds to wait until each replica is ready.
        updated: Replicas an in-place update made ready a moment ago (replica → deployment,
            see :mod:`.replica_update`): nothing is sent or waited for again.

    Raises:
        BudgetExceeded, NoBidsError, MarketError: a replica could not be deployed; what the
            steps recorded is closed by the caller's compensation.
    """
    results: list[DeploymentResult] = []
    used = _providers(first)
    spent = _price(first)
    budget = request.budget.to_budget()
    for replica in range(2, request.redundancy + 1):
        state = SagaState.from_steps(await task.steps()).replicas.get(replica)
        journal = ReplicaJournal(task, replica)
        akash = AkashIntegrationProvider(
            base.backend,
            policy=request.bid_policy,
            budget=_remaining(budget, spent),
            on_event=on_event,
            journal=journal,
            bid_timeout=bid_timeout,
            ready_timeout=ready_timeout,
            close_on_failure=False,
            unique_versions=True,  # the task's marker and the replica's number
        )
        sdl = replica_sdl(marked_sdl, replica)
        if updated and replica in updated:
            result = await akash.ready_result(updated[replica], sdl)
        else:
            result = await _one(akash, journal, request, sdl, state, used)
        results.append(result)
        used |= _providers(result)
        spent += _price(result)
    return results


async def close_replicas(
    akash: AkashIntegrationProvider, task: TaskContext, replicas: dict[int, int], reason: str
) -> list[str]:
    """Close every given replica's deployment (replica → dseq); returns the failures."""
    failures: list[str] = []
    for replica, dseq in sorted(replicas.items()):
        try:
            await akash.backend.close_deployment(dseq)
        except Minds371Error as exc:
            _log.error("minds371.deploy.replica_close_failed", dseq=dseq, error=exc.message)
            failures.append(exc.message)
            continue
        await ReplicaJournal(task, replica).closed(dseq=dseq, reason=reason)
    return failures


def replica_summary(results: Sequence[DeploymentResult]) -> list[dict[str, Any]]:
    """What a task's output and registry record say about replicas 2…N."""
    return [
        {
            "replica": index,
            "dseq": str(result.dseq),
            "providers": sorted(_providers(result)),
            "endpoints": [e.url for e in result.endpoints],
        }
        for index, result in enumerate(results, start=2)
    ]
