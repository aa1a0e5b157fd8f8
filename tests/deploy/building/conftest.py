"""Real parts for building from source: git repositories served over smart HTTP on 127.0.0.1,
Debian's docker-registry on a free loopback port, and builder storage kept in a temporary
directory (podman or buildah ``--root``), so that tests leave nothing on the machine."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from minds371.agent import TaskContext
from minds371.state.memory import MemoryStateStore
from minds371.tasks import Task, TaskEvent, TaskStatus
from minds371_deploy.building.builder import Builder
from tests.servers.git_http import git_http_server
from tests.servers.image_registry import image_registry

#: A page the image serves: FROM scratch + COPY (no base image can be pulled without internet).
DOCKERFILE = "FROM scratch\nCOPY index.html /index.html\n"


def git(*args: str, cwd: Path) -> str:
    """Run git in ``cwd`` (a fixed identity, no user configuration) and return its output."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class Repos:
    """Bare repositories under ``root``, served at ``url`` (``<url>/<name>.git``)."""

    root: Path
    url: str
    commits: int = 0

    def publish(self, name: str, files: dict[str, str], branch: str = "main") -> str:
        """Commit ``files`` as repository ``name`` (a new commit each call); return its URL."""
        work = self.root.parent / "work" / name
        if not work.exists():
            work.mkdir(parents=True)
            git("init", "-q", "-b", branch, cwd=work)
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        git("add", "-A", cwd=work)
        # A message of its own: the same files committed by another repository in the same
        # second would otherwise be the same commit, and its image already pushed.
        self.commits += 1
        message = f"{name} change {self.commits}"
        git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
        bare = self.root / f"{name}.git"
        if bare.exists():
            shutil.rmtree(bare)
        git("clone", "-q", "--bare", str(work), str(bare), cwd=self.root)
        return f"{self.url}/{name}.git"

    def head(self, name: str) -> str:
        """The commit the repository's branch points at."""
        return git("rev-parse", "HEAD", cwd=self.root / f"{name}.git")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repos]:
    root = tmp_path_factory.mktemp("git") / "served"
    root.mkdir()
    with git_http_server(root) as url:
        yield Repos(root, url)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry the tests push to."""
    with image_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.fixture(scope="module")
def builder_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("podman") is None and shutil.which("buildah") is None:
        pytest.skip("podman or buildah is needed (scripts/test.sh installs podman)")
    storage = tmp_path_factory.mktemp("builder-storage")
    yield storage
    runroot = Builder("podman", "podman", storage).runroot
    assert runroot is not None
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.fixture
def build_env(monkeypatch: pytest.MonkeyPatch, builder_storage: Path, tmp_path: Path) -> Path:
    """Build settings for this test: storage in a temporary directory, clones under tmp_path.

    Returns the directory local repositories may be cloned from.
    """
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("MINDS371_BUILD_STORAGE", str(builder_storage))
    monkeypatch.setenv("MINDS371_BUILD_WORKDIR", str(tmp_path / "builds"))
    monkeypatch.setenv("MINDS371_BUILD_ALLOWED_PATHS", str(allowed))
    monkeypatch.setenv("MINDS371_BUILD_COMMANDS", "allow")
    return allowed


def registry_digest(registry: str, repository: str, tag: str) -> str | None:
    """The digest the registry holds for ``repository:tag`` (``None``: it has none)."""
    response = httpx.head(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return str(response.headers["docker-content-digest"])


@dataclass
class BuildTask:
    """A real :class:`~minds371.agent.TaskContext` on a memory state store, its events kept."""

    context: TaskContext
    events: list[TaskEvent]

    async def step_names(self) -> list[str]:
        return [step.name for step in await self.context.steps()]


@pytest.fixture
def build_task() -> BuildTask:
    return new_build_task()


def new_build_task() -> BuildTask:
    """A task of its own (its own journal and events)."""
    events: list[TaskEvent] = []

    async def emit(type: str, message: str, data: Any) -> TaskEvent:
        event = TaskEvent(
            task_id="t",
            seq=len(events) + 1,
            type=type,
            status=TaskStatus.RUNNING,
            message=message,
            data=dict(data),
        )
        events.append(event)
        return event

    context = TaskContext(
        task=Task(id="t", agent_type="deployment"),
        attempt=1,
        store=MemoryStateStore(),
        runtime=None,
        _emit=emit,
    )
    return BuildTask(context, events)
