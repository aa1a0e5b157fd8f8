"""Where minds371 keeps its state, how it makes files there, and whether it may go off-machine.

The environment is read only here, at the edge.

Everything under the home may hold credentials (task payloads, the sandbox's workloads, registry
keys), so every file minds371 makes there is readable by its owner only (``0600``; ``0700`` for
monitor scripts, which must run) and every folder it makes is ``0700``, whatever the umask and
the mode of the folder around it: :func:`private_dir`, :func:`private_file`, :func:`write_private`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from minds371.errors import ConfigurationError

__all__ = [
    "EXECUTABLE_MODE",
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "base_home",
    "home",
    "home_for",
    "is_loopback_url",
    "private_dir",
    "private_file",
    "require_network",
    "write_all",
    "write_private",
]

HOME_ENV = "MINDS371_HOME"
#: A served sandbox: another world than the one kept in the home (see :func:`home`).
SANDBOX_URL_ENV = "MINDS371_SANDBOX_URL"
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
EXECUTABLE_MODE = 0o700


def base_home() -> Path:
    """``$MINDS371_HOME``, else ``~/.minds371`` (not created here)."""
    configured = os.environ.get(HOME_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".minds371"


def home() -> Path:
    """The state directory (not created here).

    It is :func:`base_home`, or, while ``MINDS371_SANDBOX_URL`` names a served sandbox, a
    directory of that sandbox's own under it (``served/<host>-<port>``). A served sandbox is a
    world of its own: its deployments, the registry records that point at them and the tasks
    that made them must not mix with the embedded sandbox's (whose world is saved in the home),
    or discovery would serve one world's endpoints from the other's.
    """
    return home_for(base_home(), os.environ.get(SANDBOX_URL_ENV, ""))


def home_for(base: Path, sandbox_url: str = "") -> Path:
    """The state directory under ``base`` for a served sandbox at ``sandbox_url`` (if any)."""
    url = sandbox_url.strip()
    if not url:
        return base
    parts = urlsplit(url)
    where = f"{parts.hostname or 'sandbox'}-{parts.port or 80}{parts.path.rstrip('/')}"
    slug = "".join(c if c.isalnum() or c in "-." else "-" for c in where)[:100]
    return base / "served" / slug


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode ``0700``; return ``path``.

    Folders that already exist keep their mode: the home may sit in a folder the user shares on
    purpose, and the files inside are private anyway.
    """
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        if cursor.parent == cursor:
            break
        cursor = cursor.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path, mode: int = PRIVATE_FILE_MODE) -> Path:
    """Create ``path`` empty (its folder private) if missing, and give it ``mode`` either way.

    For files another library then opens by name (SQLite databases, lock files): SQLite gives a
    database's ``-wal`` and ``-shm`` files the database file's mode.

    The file is never opened here. SQLite's locks are POSIX record locks, which a process loses
    on a file as soon as it closes *any* descriptor of it: opening and closing a database to set
    its mode while another connection of this process holds a lock would drop that lock unseen.
    So an existing file is changed by name, and a missing one is made as a private temporary
    file, closed, and linked into place.

    Raises:
        IsADirectoryError: ``path`` is a folder.
    """
    folder = private_dir(path.parent)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
        os.close(fd)  # mkstemp makes it 0600: private from the start
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another opener made it first
        finally:
            os.unlink(tmp)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    os.chmod(path, mode)
    return path


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd`` (a write may take less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_private(
    path: Path, data: str | bytes, *, mode: int = PRIVATE_FILE_MODE, durable: bool = True
) -> None:
    """Replace ``path`` with ``data`` atomically and durably, as a file of ``mode``.

    The data goes to a temporary file of that mode in the same folder, is flushed to disk, and is
    renamed over ``path``; the folder is flushed too, so a crash leaves the old file or the new
    one, never a torn or empty one.

    ``durable=False`` skips both flushes, for convenience copies of what the state holds anyway:
    a crash of the process still leaves the old file or the new one (the rename is atomic), but
    a power loss may leave an empty one. The two flushes cost about 0.8 ms of CPU each time.
    """
    folder = private_dir(path.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_network(url: str, *, what: str) -> None:
    """Refuse to reach a non-loopback ``url`` while ``minds371.ALLOW_NETWORK`` is false.

    Tests set ``minds371.ALLOW_NETWORK = False`` so that nothing can reach a live network by
    accident; loopback addresses (the sandbox, a local node) stay reachable.

    Raises:
        ConfigurationError: if the network is not allowed and ``url`` is not loopback.
    """
    import minds371

    if not minds371.ALLOW_NETWORK and not is_loopback_url(url):
        raise ConfigurationError(
            f"{what} at {url} is off this machine and network access is disabled "
            "(minds371.ALLOW_NETWORK is False)"
        )
