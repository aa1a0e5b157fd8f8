"""Checking a whole registry ledger: integrity, signatures and signers, chains, head, content."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from minds371.errors import LedgerError, Minds371Error
from minds371.logging import get_logger
from minds371_registry.content import ContentStore
from minds371_registry.head import LedgerHead
from minds371_registry.ledger import Ledger, LedgerEntry
from minds371_registry.models import VerifyReport
from minds371_registry.records import DeploymentRecord, verify_record

__all__ = ["audit_ledger"]

_log = get_logger("minds371.registry")


async def audit_ledger(
    ledger: Ledger,
    content: ContentStore,
    trusted_signers: Collection[str],
    *,
    check_content: bool = True,
    signed_head: Callable[[], Awaitable[LedgerHead | None]] | None = None,
) -> VerifyReport:
    """Walk the whole ledger and check every entry; stop at the first bad one.

    Checks the ledger's integrity (including each entry's name and sequence columns), every
    signature and signer, each name's chain (sequence and previous hash), the signed head
    (``signed_head`` loads it, checked: its signature, a ledger at least as long, and the walk
    passing through the last entry it signed) and, with ``check_content``, that every metadata
    blob is present and hashes to its CID.
    """
    started = time.perf_counter()
    heads: dict[str, tuple[DeploymentRecord, bytes]] = {}
    count = 0
    entry: LedgerEntry | None = None
    base: dict[str, Any] = {"ledger": ledger.kind, "content_checked": check_content}
    head: LedgerHead | None = None
    walking = False
    try:
        head = await signed_head() if signed_head is not None else None
        base["head_checked"] = head is not None
        walking = True
        async for entry in ledger.entries():
            count += 1
            record = entry.record
            previous, previous_digest = heads.get(record.name, (None, None))
            digest = verify_record(
                record,
                ledger.domain,
                trusted_signers,
                previous=previous,
                previous_digest=previous_digest,
            )
            if check_content:
                await content.get(record.metadata_cid)
            if head is not None:
                _check_against_head(head, entry)
            heads[record.name] = (record, digest)
            entry = None
        walking = False
    except Minds371Error as exc:
        if entry is None and walking:
            count += 1  # the ledger refused the next entry before handing it over
        failed = VerifyReport.failure(
            {**base, "entries": count, "names": len(heads), "seconds": _since(started)},
            exc,
            entry,
        )
        _log.warning(
            "minds371.registry.verify_failed",
            position=failed.position,
            name=failed.name,
            error=failed.error,
            reason=failed.problem,
        )
        return failed
    report = VerifyReport(ok=True, entries=count, names=len(heads), seconds=_since(started), **base)
    _log.info("minds371.registry.verified", entries=count, names=len(heads), **base)
    return report


def _check_against_head(head: LedgerHead, entry: LedgerEntry) -> None:
    # Every link up to here was checked, so if the head's last entry is the one it signed, the
    # whole prefix it covers (and each name's record in it) is exactly what was signed.
    if entry.position == head.entries and entry.entry_hash != head.last_entry_hash:
        raise LedgerError(
            f"ledger entry {entry.position} is not the one the signed head ends at: the "
            "entries up to it were removed, reordered or replaced",
            details={"position": entry.position},
        )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)
