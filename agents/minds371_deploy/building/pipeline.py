"""The build step of a deployment: clone, build commands, image build, push, digest.

Every step is journaled in the task's saga before the next side effect (step names below), and
a later attempt reads them back: once ``build.pushed`` is recorded the image is never built
again for the task, so a crash between the push and the deployment's create costs no second
build. Before building, the registry is asked for the commit's tag: an unchanged commit that was
pushed before (by any task) is reused, not rebuilt.

=====================  ==================================================================
``build.cloned``       the clone holds ``commit`` of ``repo_url`` at ``branch``
``build.built``        the builder built ``tag`` (``<registry>/<name>:<commit>``)
``build.pushed``       ``image`` (by digest) is in the registry: what the SDL runs
=====================  ==================================================================

Progress goes to the task as ``build.*`` events; command output as ``build.output`` events,
redacted of every registered secret.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from minds371.state import SagaStep
from minds371_deploy._faults import crash_point
from minds371_deploy.building.builder import Builder, detect_builder
from minds371_deploy.building.commands import command_argv
from minds371_deploy.building.config import BuildConfig
from minds371_deploy.building.credentials import RegistryLogin, find_login, write_auth_file
from minds371_deploy.building.errors import BuildError, ImageRegistryError
from minds371_deploy.building.git import clone
from minds371_deploy.building.registry import ImageName, manifest_digest
from minds371_deploy.building.runner import run_bounded
from minds371_deploy.building.source import parse_repo_url

__all__ = ["BuildSpec", "BuiltImage", "TaskLike", "build_image"]

CLONED = "build.cloned"
BUILT = "build.built"
PUSHED = "build.pushed"
#: Output lines of one command sent as events; the rest is only in the error's tail.
MAX_EVENT_LINES = 200


class TaskLike(Protocol):
    """What the build needs of the running task: its journal and its event stream."""

    async def record_step(self, name: str, **data: Any) -> SagaStep:
        """Durably record a saga step."""
        ...

    async def steps(self) -> list[SagaStep]:
        """The steps recorded so far, in every attempt."""
        ...

    async def emit(self, type: str, message: str = "", **data: Any) -> Any:
        """Emit a progress event."""
        ...


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """What to build, from a validated request.

    Attributes:
        name: The image's name under the registry (the request's ``name``).
        repo_url: Repository to clone.
        branch: Branch (or tag) to clone.
        container_registry: Where to push (``ghcr.io/org``, ``127.0.0.1:5000/team``).
        commands: Build commands (argv lists or strings, see :mod:`.commands`).
        shell: Run string commands with ``sh -c``.
        dockerfile: The Dockerfile, relative to the repository's root.
        timeout: Seconds each command, the image build and the push may take.
    """

    name: str
    repo_url: str
    branch: str
    container_registry: str
    commands: tuple[str | tuple[str, ...], ...] = ()
    shell: bool = False
    dockerfile: str = "Dockerfile"
    timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """The image a deployment runs.

    Attributes:
        reference: ``<registry>/<name>@sha256:…``: what the SDL names.
        tag: ``<registry>/<name>:<commit>``.
        commit: The commit it was built from.
        reused: It was already in the registry (or pushed by an earlier attempt): not built now.
        login: The registry login the provider needs to pull it, if the registry is private.
    """

    reference: str
    tag: str
    commit: str
    reused: bool
    login: RegistryLogin | None = None


async def build_image(task: TaskLike, spec: BuildSpec, config: BuildConfig) -> BuiltImage:
    """Clone, build and push ``spec`` (or reuse what was pushed); journaled, see module docs.

    Raises:
        BuildError: the source cannot be cloned or does not build; a local path outside the
            allow-list; build commands where they are not allowed. Nothing was pushed for it.
        ConfigurationError: no builder is installed; the registry credentials are unusable.
        ImageRegistryError: the registry is unreachable or refused the push.
    """
    if spec.commands and not config.commands_allowed:
        # Commands run on this machine, outside any container: a request from another agent
        # (a worker's, an MCP client's) must not run them unless the operator said so.
        raise BuildError(
            "this machine does not run build commands from requests (MINDS371_BUILD_COMMANDS "
            "is not allow): build inside the Dockerfile instead, or have the operator allow them",
            details={"field": "/build_commands"},
        )
    source = parse_repo_url(spec.repo_url)
    if source.kind == "local" and not config.allows(source.path):
        raise BuildError(
            f"repo_url {spec.repo_url} is a local path outside the directories builds may "
            "read (MINDS371_BUILD_ALLOWED_PATHS); add its directory there or clone from a URL",
            details={"field": "/repo_url"},
        )
    image = ImageName.at(spec.container_registry, spec.name)
    login = find_login(config.credentials_file, image.host)
    earlier = _pushed_earlier(await task.steps(), spec)
    if earlier is not None:
        await task.emit("build.resumed", f"using {earlier.reference}, pushed by an earlier attempt")
        return BuiltImage(earlier.reference, earlier.tag, earlier.commit, True, login)
    if config.workdir is not None:
        config.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minds371-build-", dir=config.workdir) as folder:
        work = Path(folder)
        await task.emit("build.cloning", f"cloning {spec.repo_url} at {spec.branch}")
        commit = await clone(
            source,
            spec.branch,
            work / "src",
            time_limit=config.clone_timeout,
            max_bytes=config.max_repo_bytes,
            on_line=_lines(task, "git clone"),
        )
        await task.record_step(CLONED, commit=commit, repo_url=spec.repo_url, branch=spec.branch)
        await task.emit("build.cloned", f"cloned commit {commit}", commit=commit)
        tag = image.tagged(commit)
        digest = await manifest_digest(image, commit, login)
        if digest is not None:
            reference = image.by_digest(digest)
            await _pushed(task, spec, reference, tag, commit)
            await task.emit("build.reused", f"{tag} is already in the registry", image=reference)
            return BuiltImage(reference, tag, commit, True, login)
        # Only now: a commit already in the registry deploys where no builder is installed.
        builder = await detect_builder(config, work)
        await _run_commands(task, spec, work / "src")
        await _build(task, builder, spec, work, tag, login)
        await task.record_step(BUILT, tag=tag, commit=commit, builder=builder.name)
        crash_point("build.before_push")
        await _push(task, builder, image, work, tag, login, spec.timeout)
        digest = await manifest_digest(image, commit, login)
        if digest is None:
            raise ImageRegistryError(
                f"{tag} was pushed but the registry {image.host} does not list it",
                retryable=True,
                details={"registry": image.host},
            )
        reference = image.by_digest(digest)
        await _pushed(task, spec, reference, tag, commit)
        await task.emit("build.pushed", f"pushed {reference}", image=reference)
    return BuiltImage(reference, tag, commit, False, login)


@dataclass(frozen=True, slots=True)
class _Earlier:
    reference: str
    tag: str
    commit: str


def _pushed_earlier(steps: list[SagaStep], spec: BuildSpec) -> _Earlier | None:
    for step in reversed(steps):
        data = step.data
        if (
            step.name == PUSHED
            and data.get("repo_url") == spec.repo_url
            and data.get("branch") == spec.branch
            and data.get("registry") == spec.container_registry
        ):
            return _Earlier(str(data["image"]), str(data["tag"]), str(data["commit"]))
    return None


async def _pushed(task: TaskLike, spec: BuildSpec, reference: str, tag: str, commit: str) -> None:
    await task.record_step(
        PUSHED,
        image=reference,
        tag=tag,
        commit=commit,
        repo_url=spec.repo_url,
        branch=spec.branch,
        registry=spec.container_registry,
    )
    crash_point("build.pushed")


async def _run_commands(task: TaskLike, spec: BuildSpec, checkout: Path) -> None:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(checkout.parent),
        "LANG": "C.UTF-8",
        "CI": "true",
    }
    for index, command in enumerate(spec.commands):
        argv = command_argv(command, spec.shell)
        await task.emit("build.command", f"running build command {index + 1}", index=index)
        try:
            result = await run_bounded(
                argv,
                cwd=checkout,
                env=env,
                time_limit=spec.timeout,
                on_line=_lines(task, f"build command {index + 1}"),
            )
        except OSError as exc:
            raise BuildError(
                f"build command {index + 1} could not start: {exc.strerror or exc}",
                details={"field": f"/build_commands/{index}"},
            ) from None
        if not result.ok:
            why = result.stopped or f"exited with status {result.returncode}"
            raise BuildError(
                f"build command {index + 1} {why}; nothing was deployed"
                + (f"; its output ended with:\n{result.tail()}" if result.output.strip() else ""),
                details={"field": f"/build_commands/{index}", "returncode": result.returncode},
            )


async def _build(
    task: TaskLike,
    builder: Builder,
    spec: BuildSpec,
    work: Path,
    tag: str,
    login: RegistryLogin | None,
) -> None:
    checkout = work / "src"
    dockerfile = (checkout / spec.dockerfile).resolve()
    if checkout.resolve() not in dockerfile.parents or not dockerfile.is_file():
        raise BuildError(
            f"the repository has no {spec.dockerfile} at its root commit to build",
            details={"field": "/dockerfile"},
        )
    auth = write_auth_file(work / "auth", login)
    await task.emit("build.building", f"building {tag} with {builder.name}", builder=builder.name)
    result = await run_bounded(
        builder.build_argv(tag=tag, dockerfile=dockerfile, context=checkout, auth=auth),
        cwd=work,
        env=builder.env(auth),
        time_limit=spec.timeout,
        on_line=_lines(task, f"{builder.name} build"),
    )
    if not result.ok:
        why = result.stopped or f"failed (status {result.returncode})"
        raise BuildError(
            f"the image build of {spec.dockerfile} {why}; nothing was deployed; the builder's "
            f"output ended with:\n{result.tail()}",
            details={"field": "/dockerfile", "builder": builder.name},
        )


async def _push(
    task: TaskLike,
    builder: Builder,
    image: ImageName,
    work: Path,
    tag: str,
    login: RegistryLogin | None,
    time_limit: float,
) -> None:
    auth = write_auth_file(work / "auth", login)
    await task.emit("build.pushing", f"pushing {tag}")
    result = await run_bounded(
        builder.push_argv(tag=tag, auth=auth, loopback=image.loopback),
        cwd=work,
        env=builder.env(auth),
        time_limit=time_limit,
        on_line=_lines(task, f"{builder.name} push"),
    )
    if not result.ok:
        why = result.stopped or f"failed (status {result.returncode})"
        raise ImageRegistryError(
            f"pushing {tag} to {image.host} {why}: {result.tail(5)}",
            retryable=result.stopped is not None,
            details={"registry": image.host},
        )


def _lines(task: TaskLike, source: str) -> Any:
    sent = 0

    async def on_line(line: str) -> None:
        nonlocal sent
        sent += 1
        if sent <= MAX_EVENT_LINES:
            await task.emit("build.output", line, source=source)
        elif sent == MAX_EVENT_LINES + 1:
            await task.emit("build.output", "(further output is not streamed)", source=source)

    return on_line
