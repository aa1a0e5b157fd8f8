"""A built request as its task deployed it: the image its build pushed, read from the journal.

A ``repo_url`` request's payload names no image; the task's ``build.pushed`` step does. Whoever
rebuilds the SDL of a task that already ran (the watcher re-leasing a lost group, an update
comparing with the deployment it replaces, a rollback) reads it back here, so that the SDL is
the one the task deployed, not a new build.
"""

from __future__ import annotations

from minds371.state import StateStore
from minds371_deploy.building.config import BuildConfig
from minds371_deploy.building.credentials import find_login
from minds371_deploy.building.pipeline import PUSHED
from minds371_deploy.building.registry import ImageName
from minds371_deploy.request import DeploymentRequest

__all__ = ["as_deployed"]


async def as_deployed(
    store: StateStore, task_id: str, request: DeploymentRequest
) -> DeploymentRequest:
    """``request`` running the image task ``task_id`` pushed (unchanged without ``repo_url``).

    A task that never pushed an image keeps its request, whose SDL then cannot be made (the
    :class:`~minds371.errors.ConfigurationError` of :attr:`DeploymentRequest.workload`).

    Raises:
        ConfigurationError: the registry credentials file is unusable.
    """
    if request.repo_url is None or request.container_registry is None:
        return request
    for step in reversed(await store.steps(task_id)):
        if step.name == PUSHED and step.data.get("image"):
            host = ImageName.at(request.container_registry, request.name).host
            login = find_login(BuildConfig.from_env().credentials_file, host)
            credentials = None if login is None else login.sdl_credentials()
            return request.with_built_image(str(step.data["image"]), credentials)
    return request
