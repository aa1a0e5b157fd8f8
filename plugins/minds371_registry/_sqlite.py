"""SQLite helpers shared by the registry's embedded files (the ledger, the content store)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

__all__ = ["use_wal"]


def use_wal(
    conn: sqlite3.Connection,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> None:
    """Put the database in WAL mode, waiting out other openers doing the same.

    Switching a new file to WAL needs it alone, and SQLite reports "database is locked" at once
    (its busy handler is not asked) while another connection is making the same switch. So a
    "locked" is retried every 10 ms for up to five seconds (on ``clock``, sleeping with
    ``sleep``); any other error, or a lock held longer, is raised.
    """
    deadline = clock() + 5.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or clock() > deadline:
                raise
            sleep(0.01)
