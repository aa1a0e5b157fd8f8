"""Checking a whole registry ledger: integrity, signatures and signers, chains, content."""

from __future__ import annotations

import time
from collections.abc import Collection

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371_registry.content import ContentStore
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
    check_content: bool = False,
) -> VerifyReport:
    """Walk the whole ledger and check every entry; stop at the first bad one.

    Checks the ledger's integrity, every signature and signer, and each name's chain
    (sequence and previous hash); with ``check_content``, also that every metadata blob is
    present and hashes to its CID.
    """
    started = time.perf_counter()
    heads: dict[str, tuple[DeploymentRecord, bytes]] = {}
    count = 0
    entry: LedgerEntry | None = None
    base = {"ledger": ledger.kind}
    try:
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
            heads[record.name] = (record, digest)
            entry = None
    except Minds371Error as exc:
        if entry is None:
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


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)
