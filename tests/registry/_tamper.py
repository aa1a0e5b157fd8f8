"""What an attacker with write access to a local ledger file can do, as tests need it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from minds371_registry.ledger import GENESIS_HASH
from minds371_registry.ledger.local import entry_hash


def relink(db: sqlite3.Connection) -> None:
    """Re-compute every entry's link from the first, as an attacker covering an edit would."""
    rows = db.execute("SELECT position, record, record_hash FROM entries ORDER BY position")
    prev = GENESIS_HASH
    for pos, rec, rh in rows.fetchall():
        link = entry_hash(prev, pos, rh, rec)
        db.execute(
            "UPDATE entries SET prev_entry_hash = ?, entry_hash = ? WHERE position = ?",
            (prev, link, pos),
        )
        prev = link


def rewrite_row(path: Path, position: int, body: str, digest: str) -> None:
    """Replace a row's record (and its index columns) and re-compute the hash chain."""
    record = json.loads(body)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("DROP INDEX IF EXISTS entries_name_sequence")  # it would refuse a duplicate
        db.execute(
            "UPDATE entries SET record = ?, record_hash = ?, name = ?, sequence = ? "
            "WHERE position = ?",
            (body, digest, record["name"], record["sequence"], position),
        )
        relink(db)


def delete_and_renumber(path: Path, position: int) -> None:
    """Remove one row, move the later ones down a place and re-compute the chain: the ledger
    then looks as if the row had never been there."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("DROP INDEX IF EXISTS entries_name_sequence")
        db.execute("DELETE FROM entries WHERE position = ?", (position,))
        db.execute("UPDATE entries SET position = -position WHERE position > ?", (position,))
        db.execute("UPDATE entries SET position = -position - 1 WHERE position < 0")
        relink(db)


def rename_row(path: Path, position: int, name: str) -> None:
    """File a row under another name (the name column is in no hash)."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("UPDATE entries SET name = ? WHERE position = ?", (name, position))
