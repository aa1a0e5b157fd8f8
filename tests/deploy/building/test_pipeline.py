"""The journaled build pipeline, in process, against the real git server, builder and registry:
hostile sources fail with the reason and push nothing, a pushed image is never built twice for
a task, an unchanged commit is reused, and registry logins stay out of every event."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from minds371.errors import ConfigurationError
from minds371_deploy.building.config import BuildConfig
from minds371_deploy.building.errors import BuildError
from minds371_deploy.building.pipeline import BuildSpec, build_image
from minds371_sandbox import classify_image
from tests.deploy.building.conftest import (
    DOCKERFILE,
    BuildTask,
    Repos,
    new_build_task,
    registry_digest,
)
from tests.servers.redis_server import free_port

PAGE = {"Dockerfile": DOCKERFILE, "index.html": "<p>hi</p>\n"}
# Unique to this process: the suite runs in several, and each looks for its own leftovers.
HANG = f"876{os.getpid()}"


def spec(url: str, registry: str, **overrides: object) -> BuildSpec:
    fields: dict[str, object] = {
        "name": "app",
        "repo_url": url,
        "branch": "main",
        "container_registry": f"{registry}/pipeline",
    }
    fields.update(overrides)
    return BuildSpec(**fields)  # type: ignore[arg-type]


def config(build_env: Path) -> BuildConfig:
    return BuildConfig.from_env()


async def test_a_pushed_image_is_not_built_again_by_a_resumed_task(
    build_task: BuildTask, repos: Repos, registry: str, build_env: Path
) -> None:
    url = repos.publish("resume", PAGE)
    first = await build_image(build_task.context, spec(url, registry), config(build_env))
    assert not first.reused
    assert first.reference.startswith(f"{registry}/pipeline/app@sha256:")
    assert first.tag.endswith(f":{repos.head('resume')}")
    assert await build_task.step_names() == ["build.cloned", "build.built", "build.pushed"]
    # The attempt died after the push: the next one must not clone (the repository is even
    # gone now) nor build; it deploys what the journal says was pushed.
    (repos.root / "resume.git").rename(repos.root / "moved.git")
    try:
        second = await build_image(build_task.context, spec(url, registry), config(build_env))
    finally:
        (repos.root / "moved.git").rename(repos.root / "resume.git")
    assert second.reused and second.reference == first.reference
    assert await build_task.step_names() == ["build.cloned", "build.built", "build.pushed"]


async def test_an_unchanged_commit_already_in_the_registry_is_reused_without_a_build(
    build_task: BuildTask, repos: Repos, registry: str, build_env: Path
) -> None:
    url = repos.publish("same", PAGE)
    first = await build_image(new_build_task().context, spec(url, registry), config(build_env))
    again = await build_image(build_task.context, spec(url, registry), config(build_env))
    assert again.reused and again.reference == first.reference
    types = [event.type for event in build_task.events]
    assert "build.reused" in types
    assert "build.building" not in types and "build.pushing" not in types


def _running(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            found.append(int(pid))
    return found


@pytest.mark.parametrize(
    ("label", "overrides", "says"),
    [
        ("not a repository", {"repo_url": "{git}/nothing.git"}, "could not clone"),
        ("a missing branch", {"branch": "no-such-branch"}, "could not clone"),
        ("outside the allow-list", {"repo_url": "/etc"}, "MINDS371_BUILD_ALLOWED_PATHS"),
        (
            "a build command that hangs",
            {"commands": (("sh", "-c", f"sleep {HANG} & sleep {HANG}"),), "timeout": 1.0},
            "timed out after 1 s",
        ),
        ("a build command that fails", {"commands": ("false",)}, "exited with status 1"),
        ("a Dockerfile that fails", {"dockerfile": "Broken.Dockerfile"}, "image build"),
        ("no Dockerfile", {"dockerfile": "Missing.Dockerfile"}, "has no Missing.Dockerfile"),
    ],
)
async def test_a_source_that_does_not_build_fails_with_the_reason_and_pushes_nothing(
    build_task: BuildTask,
    repos: Repos,
    registry: str,
    build_env: Path,
    label: str,
    overrides: dict[str, object],
    says: str,
) -> None:
    url = repos.publish("bad", {**PAGE, "Broken.Dockerfile": "FROM scratch\nCOPY nope /x\n"})
    if "repo_url" in overrides:
        overrides = {**overrides, "repo_url": str(overrides["repo_url"]).format(git=repos.url)}
    with pytest.raises(BuildError) as caught:
        await build_image(build_task.context, spec(url, registry, **overrides), config(build_env))
    assert says in caught.value.message, label
    assert _running(HANG) == []  # the command's whole process group is gone
    assert registry_digest(registry, "pipeline/app", repos.head("bad")) is None
    assert "build.pushed" not in await build_task.step_names()


async def test_a_local_repository_inside_the_allow_list_is_cloned(
    build_task: BuildTask, repos: Repos, registry: str, build_env: Path
) -> None:
    repos.publish("local", PAGE)
    inside = build_env / "local.git"
    (repos.root / "local.git").rename(inside)
    try:
        built = await build_image(
            build_task.context, spec(str(inside), registry), config(build_env)
        )
    finally:
        inside.rename(repos.root / "local.git")
    assert built.commit == repos.head("local")


async def test_a_registry_login_from_configuration_never_appears_in_events(
    build_task: BuildTask,
    repos: Repos,
    registry: str,
    build_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = "s3cret-registry-password-42"
    logins = tmp_path / "logins.json"
    logins.write_text(f'{{"{registry}": {{"username": "ci", "password": "{password}"}}}}')
    monkeypatch.setenv("MINDS371_REGISTRY_CREDENTIALS", str(logins))
    # The build command prints the password: its output is streamed redacted.
    url = repos.publish("private", PAGE)
    command = ("echo", f"token={password}")
    built = await build_image(
        build_task.context, spec(url, registry, commands=(command,)), config(build_env)
    )
    assert built.login is not None
    assert built.login.sdl_credentials() == {
        "host": registry,
        "username": "ci",
        "password": password,
    }
    assert password not in repr(built)
    shown = repr([(e.message, e.data) for e in build_task.events])
    assert "token=" in shown and password not in shown
    assert password not in repr(await build_task.context.steps())


async def test_no_builder_installed_is_a_configuration_error_naming_what_to_install(
    build_task: BuildTask,
    repos: Repos,
    registry: str,
    build_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = repos.publish("nobuilder", PAGE)
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to("/usr/bin/git")
    docker = shutil.which("docker")
    if docker is not None:  # installed, but no daemon answers: it does not count
        (only_git / "docker").symlink_to(docker)
    monkeypatch.setenv("PATH", str(only_git))
    with pytest.raises(ConfigurationError) as caught:
        await build_image(build_task.context, spec(url, registry), config(build_env))
    assert "install podman" in caught.value.message


@pytest.mark.parametrize("name", ["buildah", "podman"])
async def test_the_configured_builder_builds_and_pushes_to_a_loopback_registry(
    build_task: BuildTask,
    repos: Repos,
    registry: str,
    build_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (scripts/test.sh installs it)")
    monkeypatch.setenv("MINDS371_BUILDER", name)
    url = repos.publish(f"with-{name}", PAGE)
    built = await build_image(build_task.context, spec(url, registry), config(build_env))
    assert not built.reused
    building = [e for e in build_task.events if e.type == "build.building"]
    assert [e.data["builder"] for e in building] == [name]
    digest = registry_digest(registry, "pipeline/app", repos.head(f"with-{name}"))
    assert built.reference == f"{registry}/pipeline/app@{digest}"


async def test_the_sandbox_pulls_a_loopback_digest_only_if_that_registry_has_it(
    build_task: BuildTask, repos: Repos, registry: str, build_env: Path
) -> None:
    url = repos.publish("pulled", PAGE)
    built = await build_image(build_task.context, spec(url, registry), config(build_env))
    assert classify_image(built.reference).outcome == "ok"
    missing = classify_image(f"{registry}/pipeline/app@sha256:{'0' * 64}")
    assert missing.outcome == "pull_error" and "manifest unknown" in missing.reason
    nobody = classify_image(f"127.0.0.1:{free_port()}/app@sha256:{'1' * 64}")
    assert nobody.outcome == "pull_error" and "connection refused" in nobody.reason


@pytest.mark.parametrize("setting", ["deny", None])
async def test_build_commands_run_only_where_the_operator_allows_them(
    build_task: BuildTask,
    repos: Repos,
    registry: str,
    build_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
) -> None:
    # A worker's or an MCP server's requests come from other agents: by default their
    # commands do not run on this machine, and nothing is cloned for them.
    if setting is None:
        monkeypatch.delenv("MINDS371_BUILD_COMMANDS")
    else:
        monkeypatch.setenv("MINDS371_BUILD_COMMANDS", setting)
    url = repos.publish("commands", PAGE)
    marker = build_env.parent / "ran"
    command = ("touch", str(marker))
    with pytest.raises(BuildError) as caught:
        await build_image(
            build_task.context, spec(url, registry, commands=(command,)), config(build_env)
        )
    assert caught.value.details["field"] == "/build_commands"
    assert "MINDS371_BUILD_COMMANDS" in caught.value.message
    assert not marker.exists()
    assert await build_task.step_names() == []
    # Without commands the same source builds: only the Dockerfile runs, in the builder.
    built = await build_image(build_task.context, spec(url, registry), config(build_env))
    assert built.commit == repos.head("commands")


def test_a_build_commands_setting_that_is_neither_allow_nor_deny_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINDS371_BUILD_COMMANDS", "yes")
    with pytest.raises(ConfigurationError, match="MINDS371_BUILD_COMMANDS must be allow or deny"):
        BuildConfig.from_env()
