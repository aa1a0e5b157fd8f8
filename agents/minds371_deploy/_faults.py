"""Crash points for recovery testing: kill this process at a named point of the saga.

Set ``MINDS371_CRASH_AT=<point>`` (for example ``deployment.after_create``) and the process kills
itself with SIGKILL when it reaches that point, exactly as a power cut or an OOM kill would,
so that tests can prove ``minds371 reconcile`` leaves nothing open and untracked. Unset, a crash
point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "crash_point"]

CRASH_ENV = "MINDS371_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, at once and without cleanup, if ``$MINDS371_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
