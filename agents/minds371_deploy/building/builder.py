"""The image builder installed here: podman, then buildah, then docker if its daemon answers.

Each is driven through its CLI (podman 4 ``podman-build(1)``/``podman-push(1)``, buildah
``buildah-build(1)``/``buildah-push(1)``, ``docker build``/``docker push``). A registry on a
loopback host is plain HTTP: podman and buildah are told ``--tls-verify=false`` for it (and only
for it); docker treats ``127.0.0.0/8`` as insecure on its own. Logins reach the builder in an
auth file (``--authfile``; ``DOCKER_CONFIG`` for docker), never on its command line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from minds371.errors import ConfigurationError
from minds371_deploy.building.config import BuildConfig
from minds371_deploy.building.runner import run_bounded

__all__ = ["Builder", "detect_builder"]

#: Variables the builders read for their own configuration, passed through when set.
_PASS_THROUGH = (
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "DOCKER_HOST",
    "TMPDIR",
)
_INSTALL = (
    "no container image builder is available: install podman (Debian/Ubuntu: apt-get install "
    "podman) or buildah, or start a Docker daemon"
)


@dataclass(frozen=True, slots=True)
class Builder:
    """One image builder and how to call it.

    Attributes:
        name: ``podman``, ``buildah`` or ``docker``.
        program: Its executable.
        storage: Image storage directory for podman and buildah (``None``: their default).
    """

    name: str
    program: str
    storage: Path | None = None

    @property
    def runroot(self) -> Path | None:
        """The transient state directory beside :attr:`storage` (locks, not images).

        containers/storage refuses a run root longer than 50 characters, so it lives in the
        system's temporary directory under a short name derived from the storage path.
        """
        if self.storage is None:
            return None
        digest = hashlib.sha256(str(self.storage.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"minds371-run-{digest}"

    def _global(self) -> list[str]:
        if self.storage is None or self.name == "docker":
            return []
        return [
            "--root",
            str(self.storage / "root"),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
        ]

    def build_argv(self, *, tag: str, dockerfile: Path, context: Path, auth: Path) -> list[str]:
        """The command that builds ``context`` with ``dockerfile`` as ``tag``."""
        argv = [self.program, *self._global(), "build", "--file", str(dockerfile), "--tag", tag]
        if self.name != "docker":
            argv += ["--authfile", str(auth)]
        return [*argv, str(context)]

    def push_argv(self, *, tag: str, auth: Path, loopback: bool) -> list[str]:
        """The command that pushes ``tag`` to its registry."""
        if self.name == "docker":
            return [self.program, "push", tag]
        argv = [self.program, *self._global(), "push", "--authfile", str(auth)]
        if loopback:
            argv.append("--tls-verify=false")
        return [*argv, tag]

    def env(self, auth: Path) -> dict[str, str]:
        """The builder's environment: minimal, its own settings, and the auth file."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
        }
        env.update({key: os.environ[key] for key in _PASS_THROUGH if os.environ.get(key)})
        if self.name == "docker":
            env["DOCKER_CONFIG"] = str(auth.parent)
        return env


async def detect_builder(config: BuildConfig, cwd: Path) -> Builder:
    """The builder to use: the configured one, else the first of podman, buildah, docker.

    Docker counts only when its daemon answers (``docker version``).

    Raises:
        ConfigurationError: none is available; the message says what to install.
    """
    names = (config.builder,) if config.builder else ("podman", "buildah", "docker")
    for name in names:
        assert name is not None
        program = shutil.which(name)
        if program is None:
            continue
        builder = Builder(name, program, config.storage)
        if name == "docker" and not await _daemon_answers(builder, cwd):
            continue
        return builder
    if config.builder:
        raise ConfigurationError(
            f"MINDS371_BUILDER is {config.builder}, which is not installed here"
            + (" or whose daemon does not answer" if config.builder == "docker" else "")
        )
    raise ConfigurationError(_INSTALL)


async def _daemon_answers(builder: Builder, cwd: Path) -> bool:
    argv = [builder.program, "version", "--format", "{{.Server.Version}}"]
    try:
        result = await run_bounded(argv, cwd=cwd, env=builder.env(cwd / "none"), time_limit=10)
    except OSError:
        return False
    return result.ok
