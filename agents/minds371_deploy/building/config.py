"""Build settings that come from the operator, never from a request.

Read from the environment at the edge (:meth:`BuildConfig.from_env`):

================================  ===============================================================
``MINDS371_BUILD_ALLOWED_PATHS``  Directories (``:``-separated) a local ``repo_url`` may lie in;
                                  empty (the default): no local path is cloned.
``MINDS371_BUILD_COMMANDS``       ``allow`` to run a request's ``build_commands`` on this machine;
                                  ``deny`` (the default in a library, a worker or an MCP server,
                                  where requests come from other agents) refuses them. The
                                  ``minds371 deploy`` command allows them unless this says
                                  otherwise: its requests come from the person at the shell.
``MINDS371_BUILDER``              ``podman``, ``buildah`` or ``docker``: use this one instead of
                                  detecting the first installed (podman, buildah, docker).
``MINDS371_BUILD_STORAGE``        A directory for the builder's image storage (podman and
                                  buildah ``--root``/``--runroot``, ``vfs`` driver), instead of
                                  the builder's own default.
``MINDS371_BUILD_WORKDIR``        Where clones are made (default: the system's temporary dir).
``MINDS371_BUILD_MAX_REPO_MB``    Largest checkout, in MiB (default 500).
``MINDS371_BUILD_CLONE_TIMEOUT``  Seconds a clone may take (default 300).
``MINDS371_REGISTRY_CREDENTIALS`` A JSON file ``{"<registry host>": {"username": ...,
                                  "password": ...}}`` (default:
                                  ``$MINDS371_HOME/registry-credentials.json`` when it exists).
================================  ===============================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from minds371.config import base_home
from minds371.errors import ConfigurationError

__all__ = ["COMMANDS_ENV", "BuildConfig"]

#: Whether a request's build commands may run here (``allow`` / ``deny``).
COMMANDS_ENV = "MINDS371_BUILD_COMMANDS"

_BUILDERS = ("podman", "buildah", "docker")


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Operator settings of the build step (see module docs for the environment variables).

    Attributes:
        allowed_paths: Directories a local repository may be cloned from.
        commands_allowed: A request's ``build_commands`` may run on this machine.
        builder: A builder to use instead of detecting one.
        storage: Image storage directory for podman and buildah (``None``: their default).
        workdir: Where clones are made (``None``: the system's temporary directory).
        max_repo_bytes: Largest checkout a clone may produce.
        clone_timeout: Seconds a clone may take.
        credentials_file: Registry logins (JSON), if any.
    """

    allowed_paths: tuple[Path, ...] = ()
    commands_allowed: bool = False
    builder: str | None = None
    storage: Path | None = None
    workdir: Path | None = None
    max_repo_bytes: int = 500 * 2**20
    clone_timeout: float = 300.0
    credentials_file: Path | None = field(default=None)

    @classmethod
    def from_env(cls) -> BuildConfig:
        """Read the ``MINDS371_BUILD_*`` and ``MINDS371_REGISTRY_CREDENTIALS`` variables.

        Raises:
            ConfigurationError: a variable holds something unusable (named in the message).
        """
        env = os.environ
        allowed = tuple(
            Path(part).resolve()
            for part in env.get("MINDS371_BUILD_ALLOWED_PATHS", "").split(os.pathsep)
            if part.strip()
        )
        builder = env.get("MINDS371_BUILDER", "").strip() or None
        if builder is not None and builder not in _BUILDERS:
            raise ConfigurationError(
                f"MINDS371_BUILDER must be one of {', '.join(_BUILDERS)}, not {builder!r}"
            )
        commands = env.get(COMMANDS_ENV, "").strip().lower() or "deny"
        if commands not in ("allow", "deny"):
            raise ConfigurationError(f"{COMMANDS_ENV} must be allow or deny, not {commands!r}")
        storage = env.get("MINDS371_BUILD_STORAGE", "").strip()
        workdir = env.get("MINDS371_BUILD_WORKDIR", "").strip()
        creds = env.get("MINDS371_REGISTRY_CREDENTIALS", "").strip()
        default_creds = base_home() / "registry-credentials.json"
        return cls(
            allowed_paths=allowed,
            commands_allowed=commands == "allow",
            builder=builder,
            storage=Path(storage) if storage else None,
            workdir=Path(workdir) if workdir else None,
            max_repo_bytes=_number("MINDS371_BUILD_MAX_REPO_MB", 500) * 2**20,
            clone_timeout=float(_number("MINDS371_BUILD_CLONE_TIMEOUT", 300)),
            credentials_file=Path(creds)
            if creds
            else (default_creds if default_creds.is_file() else None),
        )

    def allows(self, path: str) -> bool:
        """Whether a local repository at ``path`` lies inside an allowed directory."""
        resolved = Path(path).resolve()
        return any(resolved == root or root in resolved.parents for root in self.allowed_paths)


def _number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) == 0:
        raise ConfigurationError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)
