"""A shallow, bounded, hook-free ``git clone`` of one branch.

Upstream behaviour relied on (git 2.39, ``Documentation/git-clone.txt`` and ``git.txt``):
``--depth 1`` implies ``--single-branch``; a local path is cloned shallowly only as a
``file://`` URL; ``GIT_ALLOW_PROTOCOL`` limits the transports git (and submodules) may use;
``GIT_TERMINAL_PROMPT=0`` makes a missing credential fail instead of waiting for a person;
``core.hooksPath`` set to an empty directory runs no hook (a clone runs ``post-checkout``).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from minds371_deploy.building.errors import BuildError
from minds371_deploy.building.runner import run_bounded
from minds371_deploy.building.source import RepoSource

__all__ = ["clone", "tree_size"]


async def clone(
    source: RepoSource,
    branch: str,
    dest: Path,
    *,
    time_limit: float,
    max_bytes: int,
    on_line: Callable[[str], Awaitable[None]] | None = None,
) -> str:
    """Clone ``branch`` of ``source`` into ``dest`` (which must not exist); return the commit.

    Raises:
        BuildError: the clone failed (not a repository, no such branch, unreachable), took
            longer than ``time_limit`` or grew past ``max_bytes``; ``dest`` may hold a partial
            checkout for the caller to remove.
    """
    url = f"file://{source.path}" if source.kind == "local" else source.url
    no_hooks = dest.parent / "no-hooks"
    no_hooks.mkdir(exist_ok=True)
    argv = [
        "git",
        "-c",
        f"core.hooksPath={no_hooks}",
        "-c",
        "core.symlinks=false",
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--branch",
        branch,
        "--no-tags",
        "--no-recurse-submodules",
        f"--template={no_hooks}",
        "--",
        url,
        str(dest),
    ]

    def too_big() -> str | None:
        size = tree_size(dest)
        return f"grew past {max_bytes // 2**20} MiB" if size > max_bytes else None

    result = await run_bounded(
        argv,
        cwd=dest.parent,
        env=git_env(source.protocol),
        time_limit=time_limit,
        on_line=on_line,
        watchdog=too_big,
    )
    if not result.ok:
        why = result.stopped or result.tail(5) or f"git exited with {result.returncode}"
        raise BuildError(
            f"could not clone {source.url} at branch {branch!r}: {why}",
            details={"field": "/repo_url", "repo_url": source.url, "branch": branch},
        )
    reason = too_big()
    if reason is not None:
        raise BuildError(f"the checkout of {source.url} {reason}", details={"field": "/repo_url"})
    head = await run_bounded(
        ["git", "rev-parse", "HEAD"], cwd=dest, env=git_env(source.protocol), time_limit=30
    )
    sha = head.output.strip()
    if not head.ok or len(sha) != 40:
        raise BuildError(f"could not read the commit of the clone of {source.url}")
    return sha


def git_env(protocol: str) -> dict[str, str]:
    """The environment of a git command: no prompts, one transport, no system config."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": protocol,
        "GIT_CONFIG_NOSYSTEM": "1",
        # ssh: never ask for a passphrase or a host key confirmation.
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }
    agent = os.environ.get("SSH_AUTH_SOCK")
    if agent:
        env["SSH_AUTH_SOCK"] = agent
    return env


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (0 when it does not exist yet)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total
