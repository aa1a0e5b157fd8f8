"""The task marker: which task a deployment belongs to, written into the deployment itself.

Every service of a task's SDL gets ``MINDS371_DEPLOYMENT=<task id>`` in its environment. The
marker changes the manifest version hash, so after a crash between creating a deployment and
recording it, the deployment is found again by that hash, and a task never adopts a deployment
another task made.
"""

from __future__ import annotations

from typing import Any

from minds371_deploy._yaml import dump_sdl, load_checked_sdl

__all__ = ["TASK_ENV", "with_task_marker"]

#: Set in every service's environment: ties a deployment (and its manifest hash) to its task.
TASK_ENV = "MINDS371_DEPLOYMENT"


def with_task_marker(sdl: str | dict[str, Any], task_id: str) -> str:
    """Add ``MINDS371_DEPLOYMENT=<task id>`` to every service's env (see :data:`TASK_ENV`).

    ``sdl`` is SDL text the SDL engine has accepted, or the data safe YAML loading reads from
    such text (changed in place; see
    :meth:`~minds371_deploy.request.DeploymentRequest.base_sdl_data`): the text written is the
    same either way.
    """
    document = load_checked_sdl(sdl) if isinstance(sdl, str) else sdl
    for service in document["services"].values():
        env = [e for e in service.get("env") or [] if not str(e).startswith(f"{TASK_ENV}=")]
        service["env"] = [*env, f"{TASK_ENV}={task_id}"]
    return dump_sdl(document)
