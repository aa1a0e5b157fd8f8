"""The ``minds371`` console script: Ctrl-C at any moment, even while modules load, ends quietly.

Until the command's handler starts, an interrupt ends the process at once with one line and exit
code 130: nothing has been created yet, and a ``KeyboardInterrupt`` raised in the middle of an
import can otherwise still end the process by the signal, with a traceback. The handler then gets
Python's usual ``KeyboardInterrupt`` (see :func:`minds371.cli.main`), which commands turn into a
clean cancellation. The module imports nothing beyond the standard library's smallest modules.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import NoReturn

__all__ = ["run"]

_EXIT_CANCELLED = 130
#: What ``error_document`` in minds371.cli gives for a cancellation (not imported: it may be
#: the import that was interrupted).
_CANCELLED_JSON = (
    '{"status": "cancelled", "exit_code": 130, '
    '"error": {"type": "Cancelled", "message": "cancelled"}}\n'
)


def _wants_json() -> bool:
    arguments = sys.argv[1:]
    return "--json" in arguments[: arguments.index("--") if "--" in arguments else None]


def _cancelled() -> None:
    if _wants_json():
        sys.stdout.write(_CANCELLED_JSON)
        sys.stdout.flush()
    sys.stderr.write("minds371: cancelled\n")
    sys.stderr.flush()


def _interrupted_while_starting(signum: int, frame: FrameType | None) -> None:
    _cancelled()
    os._exit(_EXIT_CANCELLED)


def run() -> NoReturn:
    """Run the command line and exit with its code; an interrupt exits 130 with one line."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    try:
        from minds371.cli import main

        code = main()
    except KeyboardInterrupt:
        _cancelled()
        code = _EXIT_CANCELLED
    sys.exit(code)
