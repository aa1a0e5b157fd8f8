"""Where source comes from: the rules for ``repo_url`` and ``repo_branch``.

A repository URL is handed to ``git clone``, so only forms that git reads as a plain remote are
accepted: ``https://``, ``ssh://`` and scp-like ``user@host:path`` everywhere; ``http://`` and
``git://`` (unencrypted, unauthenticated) only to a loopback host, as a development or test
server serves them; and a local path (absolute, or ``file://``), which the build step clones only
from inside the configured allow-list (:class:`~minds371_deploy.building.config.BuildConfig`).
Credentials never travel in the URL: a registry or git login belongs in configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["RepoSource", "branch_problem", "parse_repo_url", "repo_url_problem"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_HOST = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?\Z")
_SCP = re.compile(r"(?P<user>[A-Za-z0-9._-]{1,64})@(?P<host>[^:/]+):(?P<path>[^\s]+)\Z")
_PATH_CHARS = re.compile(r"[A-Za-z0-9._~/+@%-]*\Z")
# What a shell would treat specially: never part of a branch this project builds.
_SHELL_CHARS = frozenset("`$;&|<>()'\"!#*?[]{}\\ \t\n~^:")
_MAX_URL = 2000


@dataclass(frozen=True, slots=True)
class RepoSource:
    """A repository URL, sorted by how it is reached.

    Attributes:
        url: What ``git clone`` is given.
        kind: ``remote`` (https, ssh, scp-like), ``loopback`` (http or git:// to this machine)
            or ``local`` (a path on this machine).
        protocol: The git transport (``https``, ``ssh``, ``http``, ``git`` or ``file``): the only
            one the clone allows (``GIT_ALLOW_PROTOCOL``).
        path: For a local repository, its absolute path.
    """

    url: str
    kind: Literal["remote", "loopback", "local"]
    protocol: Literal["https", "ssh", "http", "git", "file"]
    path: str = ""


def repo_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a repository to clone, in words; ``None`` when it is fine."""
    try:
        parse_repo_url(url)
    except ValueError as exc:
        return str(exc)
    return None


def parse_repo_url(url: str) -> RepoSource:
    """Classify a repository URL (see module docs).

    Raises:
        ValueError: the URL is not one ``git clone`` may be given, with the reason.
    """
    if not url or len(url) > _MAX_URL:
        raise ValueError(f"must be 1-{_MAX_URL} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ValueError("must not contain spaces or control characters")
    if url.startswith("-"):
        raise ValueError("must not begin with '-' (git would read it as an option)")
    if url.startswith(("/", "file://")):
        return _local(url)
    if "://" in url:
        return _with_scheme(url)
    match = _SCP.match(url)
    if match is None:
        raise ValueError(
            "must be an https://, ssh:// or user@host:path repository URL (http:// and git:// "
            "only to 127.0.0.1 or localhost; a local repository as an absolute path)"
        )
    _check_host(match["host"])
    _check_path(match["path"])
    return RepoSource(url, "remote", "ssh")


def _with_scheme(url: str) -> RepoSource:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"https", "ssh", "http", "git"}:
        raise ValueError(
            f"scheme {scheme}:// is not allowed; use https://, ssh:// or git@host:path"
        )
    host = parts.hostname or ""
    if parts.password is not None or (parts.username is not None and scheme != "ssh"):
        raise ValueError("must not carry credentials; configure git's credentials instead")
    _check_host(host)
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ValueError("has an invalid port") from None
    _check_path(parts.path)
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    if scheme in {"http", "git"}:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"{scheme}:// is unencrypted and allowed only to a loopback host "
                "(127.0.0.1, localhost); use https:// or ssh://"
            )
        return RepoSource(url, "loopback", "http" if scheme == "http" else "git")
    return RepoSource(url, "remote", "https" if scheme == "https" else "ssh")


def _local(url: str) -> RepoSource:
    path = url.removeprefix("file://")
    if not path.startswith("/"):
        raise ValueError("a local repository must be an absolute path")
    pure = PurePosixPath(path)
    if ".." in pure.parts:
        raise ValueError("a local repository path must not contain '..'")
    _check_path(path)
    return RepoSource(url, "local", "file", str(pure))


def _check_host(host: str) -> None:
    bare = host.strip("[]")
    if host in LOOPBACK_HOSTS or bare == "::1":
        return
    if not _HOST.match(host):
        raise ValueError(f"host {host!r} is not a hostname")


def _check_path(path: str) -> None:
    if not _PATH_CHARS.match(path):
        raise ValueError("the repository path may hold only letters, digits and ._~/+@%-")


def branch_problem(name: str) -> str | None:
    """What is wrong with a branch (or tag) name to clone, in words; ``None`` when it is fine.

    git's ref-name rules (``git check-ref-format``), and no character a shell treats specially:
    the name reaches ``git clone --branch`` as one argument, never a shell, but a name that
    needs quoting is refused so that no log or script built from it can be misread.
    """
    if not name or len(name) > 200:
        return "must be 1-200 characters"
    bad = sorted({char for char in name if char in _SHELL_CHARS or not char.isprintable()})
    if bad or not name.isascii():
        shown = " ".join(repr(char) for char in bad[:6]) or "non-ASCII characters"
        return f"must not contain shell metacharacters, spaces or control characters ({shown})"
    if name.startswith("-"):
        return "must not begin with '-'"
    if name == "@" or "@{" in name:
        return "must not be '@' or contain '@{'"
    if ".." in name or "//" in name:
        return "must not contain '..' or '//'"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "must not begin with '/' or end with '/' or '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "no path component may begin with '.' or end with '.lock'"
    return None
