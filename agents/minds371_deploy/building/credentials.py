"""Private registry logins, from the operator's configuration only (never from a request).

The file named by ``MINDS371_REGISTRY_CREDENTIALS`` maps a registry host to a login::

    {"ghcr.io": {"username": "me", "password": "ghp_…"}}

A login found for the registry a build pushes to is used three ways: the builder's push (an
auth file readable only by this user, removed with the build's work directory), the registry
check for an already pushed commit, and the SDL's ``services.<name>.credentials`` so that the
provider can pull. Its password (and the encoded login) is registered as a secret first, so that
no log line, event, error or result shows it.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minds371.errors import ConfigurationError
from minds371.logging import register_secret

__all__ = ["RegistryLogin", "find_login", "write_auth_file"]


@dataclass(frozen=True, slots=True)
class RegistryLogin:
    """A login for one registry host (the password never appears in a repr)."""

    host: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"RegistryLogin(host={self.host!r}, username={self.username!r})"

    @property
    def encoded(self) -> str:
        """``base64(username:password)``, as container auth files hold it."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def sdl_credentials(self) -> dict[str, str]:
        """The SDL service's ``credentials`` mapping."""
        return {"host": self.host, "username": self.username, "password": self.password}


def find_login(path: Path | None, host: str) -> RegistryLogin | None:
    """The login configured for ``host`` in the credentials file, if any (registered as secret).

    Raises:
        ConfigurationError: the file cannot be read or is not a mapping of logins.
    """
    if path is None:
        return None
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot read the registry credentials file {path}: {type(exc).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the registry credentials file {path} must hold a JSON object")
    entry = data.get(host)
    if entry is None:
        return None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("username"), str)
        or not isinstance(entry.get("password"), str)
        or not entry["username"]
        or not entry["password"]
    ):
        raise ConfigurationError(
            f'the entry for {host} in {path} must be {{"username": …, "password": …}}'
        )
    login = RegistryLogin(host, entry["username"], entry["password"])
    register_secret(login.password)
    register_secret(login.encoded)
    return login


def write_auth_file(folder: Path, login: RegistryLogin | None) -> Path:
    """Write a container auth file (``{"auths": …}``, mode 0600) into ``folder``; return it.

    The same file serves podman and buildah (``--authfile``) and docker (``config.json`` in
    ``DOCKER_CONFIG``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    auths = {} if login is None else {login.host: {"auth": login.encoded}}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"auths": auths}, file)
    return path
