"""What ``minds371 close DSEQ`` does beyond closing the deployment on the network.

The deployment given may be the first deployment of a redundant service on Console's layout,
whose replicas 2…N are deployments of their own (:mod:`.replicas`). Closing it retires the
service's registry record, so its replicas would run, and pay, with nobody sending traffic to
them; they are closed with it, as the watcher closes them when it finds the first deployment
closed. The task that deployed it is then journaled as closed, so that ``list``, ``reconcile``
and the watcher read the close from the state at once instead of finding it on the network.

The journal is written only by whoever holds the state's runtime lock: a runtime that is running
reads its tasks' steps from its own memory, so the command leaves the journal to that runtime's
watcher (which records the close, and closes any replica left, at its next pass) and says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from minds371.errors import ConfigurationError, Minds371Error
from minds371.logging import get_logger
from minds371.state import SQLiteStateStore
from minds371_akash import AkashIntegrationProvider
from minds371_akash.market import NotFound
from minds371_deploy._holders import holders_of, state_path
from minds371_deploy.saga import CLOSED, REPLICA_CLOSED, SagaState

__all__ = ["ClosedByHand", "close_with_replicas", "record_closes"]

_log = get_logger("minds371.deploy.close")

#: The reason journaled for a close made with ``minds371 close``.
REASON = "closed"


@dataclass
class ClosedByHand:
    """What closing one deployment by hand did besides the close itself."""

    dseq: int
    #: Replica deployments closed with it (dseq of each).
    replicas: list[int] = field(default_factory=list)
    #: Replicas that could not be closed: dseq → error (the watcher tries again).
    failed: dict[int, str] = field(default_factory=dict)
    #: Tasks journaled as closed (by :func:`record_closes`).
    journaled: list[str] = field(default_factory=list)
    #: Why the journal was left to a running runtime, if it was.
    journal_left: str | None = None
    #: The tasks of this home that held the deployment, and what their steps said.
    holders: list[tuple[str, SagaState]] = field(default_factory=list)


async def close_with_replicas(
    akash: AkashIntegrationProvider, dseq: int, network: str
) -> ClosedByHand:
    """Close ``dseq`` on ``network``, then the replicas of the service it is the first of.

    The deployment's own close is raised as ever (nothing else is done if it fails). The
    replicas' are reported, never raised: the deployment stays closed. The tasks are journaled
    by :func:`record_closes`, once everything that looks them up by their open deployment (a
    domain's DNS record) is done.
    """
    await akash.close(dseq, reason=REASON)
    report = ClosedByHand(dseq)
    report.holders = await holders_of(dseq, network)
    for task_id, state in report.holders:
        for replica_dseq in state.open_replicas().values():
            try:
                if (await akash.status(replica_dseq)).active:
                    await akash.close(replica_dseq, reason=REASON)
            except NotFound:
                pass  # the network no longer knows it: nothing left to pay for
            except Minds371Error as exc:
                report.failed[replica_dseq] = exc.message
                _log.warning(
                    "minds371.deploy.replica_close_failed",
                    task_id=task_id,
                    dseq=replica_dseq,
                    error=exc.message,
                )
                continue
            report.replicas.append(replica_dseq)
    return report


async def record_closes(report: ClosedByHand) -> None:
    """Journal the closes in the tasks' steps, unless a running runtime holds the state."""
    if not report.holders:
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            store = await stack.enter_async_context(SQLiteStateStore(state_path()))
        except ConfigurationError as exc:
            report.journal_left = exc.message
            return
        for task_id, state in report.holders:
            for replica, replica_dseq in state.open_replicas().items():
                if replica_dseq in report.failed:
                    continue  # still open: the watcher closes it, as an orphan
                await store.record_step(
                    task_id,
                    REPLICA_CLOSED,
                    {"replica": replica, "dseq": replica_dseq, "reason": REASON},
                )
            await store.record_step(task_id, CLOSED, {"dseq": report.dseq, "reason": REASON})
            report.journaled.append(task_id)
