"""Putting the previous manifest back on a deployment that an in-place update changed.

An in-place update changes a deployment that served before the update's task began: replica 1
(the task's own deployment) and, on Console's layout, replicas 2…N (deployments of their own).
When the update fails or is cancelled, each deployment it changed gets the manifest of the task
it came from back, and serves as before; nothing it changed is ever closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371.state import StateStore
from minds371_deploy.building.journal import as_deployed
from minds371_deploy.request import DeploymentRequest, parse_request

if TYPE_CHECKING:
    from minds371_akash import AkashIntegrationProvider
    from minds371_deploy.agent import _Run

__all__ = ["interrupted_by_shutdown", "previous_request", "put_back", "with_details"]

_log = get_logger("minds371.deploy.update")

#: How long putting one deployment's previous manifest back may take (sent and ready again).
ROLLBACK_SECONDS = 180


async def previous_request(store: StateStore, task_id: str) -> DeploymentRequest | None:
    """The request of the task an update came from, as it was deployed (a built image)."""
    record = await store.get_task(task_id)
    if record is None:
        return None
    previous = parse_request(record.task.payload).model_copy(update={"task_id": task_id})
    return await as_deployed(store, task_id, previous)


async def put_back(
    akash: AkashIntegrationProvider,
    dseq: int,
    sdl: str,
    exc: Minds371Error,
    *,
    primary: bool = True,
) -> bool:
    """Send ``sdl`` back to deployment ``dseq`` and wait until it serves again; whether it did.

    What happened is added to ``exc.details`` for the caller's report: ``rolled_back`` (False
    as soon as one deployment could not be put back), ``rollback_error``, and for the task's
    own deployment (``primary``) its ``dseq``. Raises nothing: the update's own error is what
    the task fails with.
    """
    try:
        with anyio.fail_after(ROLLBACK_SECONDS):
            await akash.backend.update_deployment(dseq, sdl)
            # Said only once it serves again, as the update would have been.
            await akash.wait_until_ready(dseq, akash.prepare(sdl))
    except (Minds371Error, TimeoutError) as rollback:
        reason = rollback.message if isinstance(rollback, Minds371Error) else "timed out"
        if primary:
            exc.details.setdefault("dseq", dseq)
        exc.details["rolled_back"] = False
        exc.details["rollback_error"] = reason
        _log.error("minds371.deploy.rollback_failed", dseq=dseq, error=reason)
        return False
    exc.details.setdefault("rolled_back", True)
    if primary:
        exc.details["dseq"] = dseq
    await akash.emit(
        "deployment.rolled_back",
        f"update undone: deployment {dseq} is back on its previous manifest",
        dseq=dseq,
    )
    return True


def interrupted_by_shutdown(run: _Run, exc: BaseException) -> bool:
    """Whether ``exc`` is the runtime stopping (the task resumes at the next start)."""
    return isinstance(exc, anyio.get_cancelled_exc_class()) and bool(
        getattr(run.task.runtime, "stopping", False)
    )


def with_details(exc: BaseException) -> Minds371Error:
    """``exc`` itself when it carries details for the caller, else a stand-in that nobody reads."""
    return exc if isinstance(exc, Minds371Error) else Minds371Error(type(exc).__name__)
