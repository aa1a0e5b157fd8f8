"""Reading an input file (an SDL, a workload spec, a deployment request) within bounds.

Only regular files are read: a FIFO would block the reader until someone writes to it, and a
device such as ``/dev/zero`` or ``/dev/urandom`` never ends. The file is opened without blocking,
checked with ``fstat`` on the open descriptor (so it cannot be swapped between the check and the
read) and read up to one byte past the limit, so an oversized file costs one bounded read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["InputFileError", "read_bounded"]


class InputFileError(Exception):
    """A file that cannot be used as input; the message says why, naming the file."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: str | Path, max_bytes: int) -> bytes:
    """The content of the regular file ``path``, at most ``max_bytes`` long.

    Raises:
        InputFileError: the file does not exist, cannot be read, is not a regular file (a
            directory, FIFO, device or socket) or is larger than ``max_bytes``.
    """
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(name, flags)
    except FileNotFoundError:
        raise InputFileError(f"{name} does not exist") from None
    except PermissionError:
        raise InputFileError(f"{name} cannot be read: permission denied") from None
    except IsADirectoryError:
        raise InputFileError(f"{name} is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(f"{name} cannot be read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(f"{name} is {_kind(mode)}; give a regular file")
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise InputFileError(f"{name} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise InputFileError(f"{name} is larger than the limit of {max_bytes} bytes")
    return data
