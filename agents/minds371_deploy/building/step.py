"""The ``clone_and_build`` step: a ``repo_url`` request in, the request running its image out."""

from __future__ import annotations

from minds371_deploy.building.config import BuildConfig
from minds371_deploy.building.pipeline import BuildSpec, BuiltImage, TaskLike, build_image
from minds371_deploy.request import DeploymentRequest

__all__ = ["build_request"]


async def build_request(
    task: TaskLike, request: DeploymentRequest, config: BuildConfig | None = None
) -> tuple[DeploymentRequest, BuiltImage]:
    """Build ``request``'s repository and return the request with the image by digest.

    Raises:
        BuildError, ConfigurationError, ImageRegistryError: see :func:`.pipeline.build_image`.
    """
    assert request.repo_url is not None
    assert request.container_registry is not None
    spec = BuildSpec(
        name=request.name,
        repo_url=request.repo_url,
        branch=request.repo_branch,
        container_registry=request.container_registry,
        commands=request.build_commands,
        shell=request.build_shell,
        dockerfile=request.dockerfile,
        timeout=float(request.build_timeout),
    )
    built = await build_image(task, spec, config or BuildConfig.from_env())
    credentials = None if built.login is None else built.login.sdl_credentials()
    return request.with_built_image(built.reference, credentials), built
