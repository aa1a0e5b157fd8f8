"""The ``minds371`` console script: Ctrl-C at any moment, even while modules load, ends quietly.

Kept free of imports beyond ``sys`` so that the window in which an interrupt can still print a
traceback is Python's own start-up, before any of our code runs.
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["run"]

_EXIT_CANCELLED = 130
#: What ``error_document`` in minds371.cli gives for a cancellation (not imported: it may be
#: the import that was interrupted).
_CANCELLED_JSON = (
    '{"status": "cancelled", "exit_code": 130, '
    '"error": {"type": "Cancelled", "message": "cancelled"}}\n'
)


def run() -> NoReturn:
    """Run the command line and exit with its code; an interrupt exits 130 with one line."""
    try:
        from minds371.cli import main

        code = main()
    except KeyboardInterrupt:
        arguments = sys.argv[1:]
        if "--json" in arguments[: arguments.index("--") if "--" in arguments else None]:
            sys.stdout.write(_CANCELLED_JSON)
        sys.stderr.write("minds371: cancelled\n")
        code = _EXIT_CANCELLED
    sys.exit(code)
