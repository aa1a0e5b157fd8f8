"""Tampering a reader must catch beyond a single entry: rows filed under another name, newest
records cut (with the chain re-computed), the signed head edited or removed, and a whole ledger
file put back to an older copy."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from minds371.errors import LedgerError, SignatureError
from minds371_registry import (
    BlockchainRegistryProvider,
    HealthChecker,
    LocalContentStore,
    LocalLedger,
    RecordSigner,
)
from minds371_registry._seen_file import SeenFile
from minds371_registry.ledger import LedgerEntry
from minds371_registry.provider import _check_filed_under
from minds371_registry.seen import SeenSequences

from ._tamper import delete_and_renumber, relink, rename_row, rewrite_row
from .conftest import hits, make_facts


def _provider(
    home: Path, signer: RecordSigner, *, seen: bool = False
) -> BlockchainRegistryProvider:
    return BlockchainRegistryProvider(
        ledger=LocalLedger(home / "registry" / "ledger.sqlite3"),
        content=LocalContentStore(home / "registry" / "content"),
        signer=signer,
        health=HealthChecker(timeout=1.0, cache_ttl=0, allow_private=True),
        seen=SeenSequences(home / "registry" / "seen.json") if seen else None,
    )


@pytest.fixture
def forged(http_endpoint: Callable[..., str]) -> str:
    """A live endpoint the attacker wants traffic sent to: any probe of it would show."""
    return http_endpoint(200)


def _path(registry: BlockchainRegistryProvider) -> Path:
    assert isinstance(registry.ledger, LocalLedger)
    return registry.ledger.path


def _reader(registry: BlockchainRegistryProvider) -> BlockchainRegistryProvider:
    """Another registry on the same files, trusting the same signer (another process's view)."""
    return BlockchainRegistryProvider(
        ledger=LocalLedger(_path(registry)), content=registry.content, signer=registry.signer
    )


# -- a row filed under another name ----------------------------------------------------------


async def test_renamed_row_does_not_serve_another_service(
    registry: BlockchainRegistryProvider, forged: str
):
    await registry.register(make_facts("admin", endpoints=(forged,)), {"v": 1})
    rename_row(_path(registry), 1, "web")
    with pytest.raises(LedgerError, match="filed as web#1 but holds the record admin#1"):
        await registry.resolve("web")
    report = await registry.verify()
    assert not report.ok and report.position == 1 and "filed as web#1" in (report.problem or "")
    assert hits(forged) == 0


def test_the_provider_refuses_an_entry_of_another_name(signer: RecordSigner):
    # The provider's own check, for any ledger: whatever a backend returns for `web` must be
    # a record of `web`.
    from minds371_registry import RecordDomain
    from minds371_registry.records import EMPTY_HASH

    record = signer.sign_record(
        make_facts("admin"),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=RecordDomain(),
    )
    entry = LedgerEntry(
        position=1, record=record, record_hash="0x" + "00" * 32, entry_hash="x", location="here"
    )
    _check_filed_under("admin", entry)
    with pytest.raises(LedgerError, match="returned the record admin#1 for 'web'"):
        _check_filed_under("web", entry)


# -- newest records cut ------------------------------------------------------------------------


async def _web_moved_then_api(registry: BlockchainRegistryProvider, forged: str, good: str) -> None:
    # `web` once ran at `forged`, an address since handed to someone else, then moved to `good`.
    await registry.register(make_facts(endpoints=(forged,)), {"v": 1})
    await registry.register(make_facts(endpoints=(good,), dseq=2), {"v": 2})
    await registry.register(make_facts("api", endpoints=(good,)), {"v": 3})


async def test_deleted_latest_row_with_relinked_chain_is_a_rollback(
    registry: BlockchainRegistryProvider, forged: str, http_endpoint: Callable[..., str]
):
    await _web_moved_then_api(registry, forged, http_endpoint(200))
    delete_and_renumber(_path(registry), 2)  # web#2 gone; the chain re-computed, 2 entries
    with pytest.raises(LedgerError, match="holds 2 entries but its signed head says 3"):
        await registry.resolve("web")
    with pytest.raises(LedgerError, match="entries were removed"):
        await registry.resolve("api")  # another name's cut shows too
    report = await registry.verify()
    assert not report.ok and "signed head says 3" in (report.problem or "")
    assert hits(forged) == 0


async def test_cut_record_replaced_to_keep_the_count_is_still_a_rollback(
    registry: BlockchainRegistryProvider,
    signer: RecordSigner,
    forged: str,
    http_endpoint: Callable[..., str],
):
    # The attacker also makes up the count with a record signed for this registry but never
    # appended: only the head's per-name state shows that `web` lost its newest record.
    await _web_moved_then_api(registry, forged, http_endpoint(200))
    path = _path(registry)
    delete_and_renumber(path, 2)
    from minds371_registry.records import EMPTY_HASH, record_digest

    spare = signer.sign_record(
        make_facts("spare"),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=registry.ledger.domain,
    )
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(
            "INSERT INTO entries (position, name, sequence, record, record_hash, "
            "prev_entry_hash, entry_hash, appended_at) VALUES (3, 'spare', 1, ?, ?, '', '', 0)",
            (spare.canonical_json(), "0x" + record_digest(spare, registry.ledger.domain).hex()),
        )
        relink(db)
    with pytest.raises(LedgerError, match=r"latest record of 'web' is #1, but its signed head"):
        await registry.resolve("web")
    assert (await registry.resolve("api")).sequence == 1  # untouched names still resolve
    report = await registry.verify(check_content=False)
    assert not report.ok and "not the one the signed head ends at" in (report.problem or "")
    assert hits(forged) == 0


async def test_reordered_rows_do_not_match_the_heads_last_entry(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str]
):
    good = http_endpoint(200)
    await registry.register(make_facts(endpoints=(good,)), {"v": 1})
    await registry.register(make_facts("api", endpoints=(good,)), {"v": 2})
    with sqlite3.connect(_path(registry), isolation_level=None) as db:
        db.execute("UPDATE entries SET position = 3 WHERE position = 1")
        db.execute("UPDATE entries SET position = 1 WHERE position = 2")
        db.execute("UPDATE entries SET position = 2 WHERE position = 3")
        relink(db)
    report = await registry.verify()
    assert not report.ok and "not the one the signed head ends at" in (report.problem or "")


# -- the head itself ---------------------------------------------------------------------------


async def test_edited_head_is_refused(registry: BlockchainRegistryProvider):
    await registry.register(make_facts(), {"v": 1})
    await registry.register(make_facts(dseq=2), {"v": 2})
    with sqlite3.connect(_path(registry), isolation_level=None) as db:
        (head,) = db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'head'",
            (head.replace('"sequence":2', '"sequence":1'),),
        )
    # Another reader parses the stored head. The writer keeps the head it signed by its id (the
    # id was left alone), and its `verify` reads the stored head all the same.
    async with _reader(registry) as reader:
        with pytest.raises(SignatureError, match="head's signature does not match its signer"):
            await reader.resolve("web")
    report = await registry.verify()
    assert not report.ok and "does not match its signer" in (report.problem or "")


@pytest.mark.parametrize("removed", ["'head'", "'head_id'", "'head', 'head_id'"])
async def test_removed_head_is_refused(registry: BlockchainRegistryProvider, removed: str):
    await registry.register(make_facts(), {"v": 1})
    with sqlite3.connect(_path(registry), isolation_level=None) as db:
        db.execute(f"DELETE FROM meta WHERE key IN ({removed})")
    fresh = BlockchainRegistryProvider(
        ledger=LocalLedger(_path(registry)), content=registry.content, signer=registry.signer
    )
    async with fresh:
        with pytest.raises(LedgerError, match="holds 1 entries but no signed head"):
            await fresh.resolve("web")
        report = await fresh.verify()
        assert not report.ok and "no signed head" in (report.problem or "")


async def test_an_older_head_put_back_under_the_current_id_is_refused(
    registry: BlockchainRegistryProvider,
):
    await registry.register(make_facts(), {"v": 1})
    path = _path(registry)
    with sqlite3.connect(path, isolation_level=None) as db:
        (older,) = db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
    await registry.register(make_facts(dseq=2), {"v": 2})
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (older,))
    fresh = BlockchainRegistryProvider(
        ledger=LocalLedger(path), content=registry.content, signer=registry.signer
    )
    async with fresh:
        with pytest.raises(LedgerError, match="not the one its id names"):
            await fresh.resolve("web")


async def test_head_of_an_untrusted_signer_is_refused(registry: BlockchainRegistryProvider):
    # The records are the trusted signer's; the head is re-signed by someone else's key, as an
    # attacker would after cutting records.
    from minds371_registry.head import LedgerHead, sign_head

    await registry.register(make_facts(), {"v": 1})
    with sqlite3.connect(_path(registry), isolation_level=None) as db:
        (stored,) = db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        head = LedgerHead.model_validate_json(stored)
        theirs = sign_head(
            RecordSigner.generate(),
            registry.ledger.domain,
            entries=head.entries,
            last_entry_hash=head.last_entry_hash,
            names=head.names,
            issued_at=head.issued_at,
        )
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('head', ?), ('head_id', ?)",
            (theirs.model_dump_json(), theirs.signature),
        )
    with pytest.raises(
        SignatureError, match=r"ledger head is signed by 0x[0-9a-fA-F]+, which is not"
    ):
        await registry.resolve("web")
    report = await registry.verify()
    assert not report.ok and "not a trusted signer" in (report.problem or "")


# -- a whole ledger file put back ------------------------------------------------------------


def _put_back(backup: Path, ledger_file: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger_file}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, ledger_file)


async def test_restored_older_ledger_is_caught_by_the_clients_memory(
    clean_environ: Path, signer: RecordSigner, forged: str, http_endpoint: Callable[..., str]
):
    ledger_file = clean_environ / "registry" / "ledger.sqlite3"
    async with _provider(clean_environ, signer, seen=True) as registry:
        await registry.register(make_facts(endpoints=(forged,)), {"v": 1})
    backup = clean_environ / "old-ledger.sqlite3"
    shutil.copy(ledger_file, backup)  # head and all: a consistent older copy
    async with _provider(clean_environ, signer, seen=True) as registry:
        await registry.register(make_facts(endpoints=(http_endpoint(200),), dseq=2), {"v": 2})
        assert (await registry.resolve("web")).sequence == 2
    _put_back(backup, ledger_file)
    # A reader without memory cannot tell: the older file is self-consistent.
    async with _provider(clean_environ, signer) as forgetful:
        assert (await forgetful.resolve("web")).sequence == 1
    # This home's reader remembers #2 (in registry/seen.json, across runs) and refuses.
    async with _provider(clean_environ, signer, seen=True) as registry:
        with pytest.raises(SignatureError, match="#2 was seen before: the ledger was rolled back"):
            await registry.resolve("web")
        with pytest.raises(SignatureError, match="rolled back"):
            await registry.register(make_facts(dseq=3), {"v": 3})  # nothing signed on top
    seen = clean_environ / "registry" / "seen.log"  # the notes, until compacted into seen.json
    assert seen.stat().st_mode & 0o777 == 0o600
    assert hits(forged) == 0


async def test_memory_refuses_a_rewritten_record_of_the_same_sequence(
    clean_environ: Path, signer: RecordSigner
):
    memory = SeenSequences(clean_environ / "seen.json")
    from minds371_registry import RecordDomain

    domain = RecordDomain()
    memory.remember(domain, "web", 2, "0x" + "aa" * 32)
    memory.remember(domain, "web", 1, "0x" + "bb" * 32)  # never lowers what was seen
    memory.check(domain, "web", 2, "0x" + "aa" * 32)
    memory.check(domain, "web", 3, "0x" + "cc" * 32)
    with pytest.raises(SignatureError, match="history was rewritten"):
        memory.check(domain, "web", 2, "0x" + "cc" * 32)
    with pytest.raises(SignatureError, match="rolled back"):
        memory.check(domain, "web", 1, "0x" + "bb" * 32)
    # Another ledger's domain is another memory.
    memory.check(RecordDomain(chain_id=5), "web", 1, "0x" + "bb" * 32)


async def test_memory_follows_what_another_process_wrote_to_its_file(clean_environ: Path):
    from minds371_registry import RecordDomain

    domain = RecordDomain()
    path = clean_environ / "seen.json"
    memory = SeenSequences(path)
    memory.remember(domain, "web", 2, "0x" + "aa" * 32)
    memory.check(domain, "web", 3, "0x" + "cc" * 32)
    # Another process saw #5 and compacted the shared memory into a new snapshot, renamed over
    # the file (the older format's processes rewrite the whole file the same way).
    data = {"0x" + domain.separator().hex(): {"web": [5, "0x" + "ee" * 32]}}
    other = path.with_name("other.json")
    other.write_text(json.dumps(data))
    other.replace(path)
    with pytest.raises(SignatureError, match="#5 was seen before: the ledger was rolled back"):
        memory.check(domain, "web", 3, "0x" + "cc" * 32)
    # And what this process remembers next keeps the other's names.
    memory.remember(domain, "api", 1, "0x" + "dd" * 32)
    assert SeenSequences(path).lookup(domain, "web") == (5, "0x" + "ee" * 32)


async def test_latest_record_replaced_by_another_of_its_sequence_is_refused(
    registry: BlockchainRegistryProvider, signer: RecordSigner, forged: str
):
    # A second `web`#1, validly signed (a leaked older signing, say), written over the first.
    from minds371_registry.records import EMPTY_HASH, record_digest

    await registry.register(make_facts(), {"v": 1})
    other = signer.sign_record(
        make_facts(endpoints=(forged,)),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=registry.ledger.domain,
    )
    digest = "0x" + record_digest(other, registry.ledger.domain).hex()
    rewrite_row(_path(registry), 1, other.canonical_json(), digest)
    with pytest.raises(LedgerError, match="web#1 is not the one the signed head names"):
        await registry.resolve("web")
    assert hits(forged) == 0


async def test_an_import_cannot_sign_a_head_over_a_rollback(
    registry: BlockchainRegistryProvider, signer: RecordSigner, http_endpoint: Callable[..., str]
):
    from minds371_registry.records import record_digest

    good = http_endpoint(200)
    await registry.register(make_facts(endpoints=(good,)), {"v": 1})
    await registry.register(make_facts(endpoints=(good,), dseq=2), {"v": 2})
    path = _path(registry)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("DELETE FROM entries WHERE position = 2")
    first = (await registry.ledger.history("web"))[0]
    again = signer.sign_record(
        make_facts(endpoints=(good,), dseq=9),
        sequence=2,
        prev_hash="0x" + record_digest(first.record, registry.ledger.domain).hex(),
        metadata_cid=first.record.metadata_cid,
        domain=registry.ledger.domain,
    )
    with pytest.raises(LedgerError, match=r"head says 'web' is at #2, so #2 cannot follow"):
        await registry.append_records([again])
    assert len(await registry.ledger.history("web")) == 1  # nothing was appended


async def test_concurrent_notes_are_each_on_disk_when_their_call_returns(clean_environ: Path):
    import anyio

    from minds371_registry import RecordDomain

    domain = RecordDomain()
    path = clean_environ / "seen.json"
    memory = SeenSequences(path)
    on_disk: dict[str, bool] = {}

    async def note(name: str) -> None:
        await memory.remember_durably(domain, name, 1, "0x" + "aa" * 32)
        # Written with its neighbours' notes, but written before the call returned.
        on_disk[name] = name in next(iter(SeenFile(path).memory().values()))

    names = [f"svc-{n}" for n in range(20)]
    async with anyio.create_task_group() as group:
        for name in names:
            group.start_soon(note, name)
    assert on_disk == dict.fromkeys(names, True)
    # In this process the memory holds them all, and a lower sequence is still refused.
    with pytest.raises(SignatureError, match="rolled back"):
        memory.check(domain, "svc-7", 0, "0x" + "bb" * 32)
    assert SeenSequences(path).lookup(domain, "svc-19") == (1, "0x" + "aa" * 32)
