from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from minds371.errors import ConfigurationError, LedgerError
from minds371_registry import LocalLedger, RecordDomain, RecordSigner
from minds371_registry.ledger.local import entry_hash
from minds371_registry.records import EMPTY_HASH, DeploymentRecord

from .conftest import make_facts


def chain(
    signer: RecordSigner, domain: RecordDomain, name: str, count: int
) -> list[DeploymentRecord]:
    from minds371_registry import record_digest

    out: list[DeploymentRecord] = []
    prev = EMPTY_HASH
    for seq in range(1, count + 1):
        record = signer.sign_record(
            make_facts(name, dseq=seq),
            sequence=seq,
            prev_hash=prev,
            metadata_cid="bafkreiabc",
            domain=domain,
        )
        prev = "0x" + record_digest(record, domain).hex()
        out.append(record)
    return out


async def test_append_history_latest_and_walk(tmp_path: Path, signer: RecordSigner):
    async with LocalLedger(tmp_path / "l.db") as ledger:
        web = chain(signer, ledger.domain, "web", 3)
        api = chain(signer, ledger.domain, "api", 2)
        for record in (web[0], api[0], web[1], api[1], web[2]):
            await ledger.append(record)
        assert [e.record.sequence for e in await ledger.history("web")] == [1, 2, 3]
        assert [e.record.dseq for e in await ledger.history("web", limit=2)] == [2, 3]
        latest = await ledger.latest("api")
        assert latest is not None and latest.record == api[1] and latest.position == 4
        assert await ledger.latest("nobody") is None
        walked = [e.position async for e in ledger.entries()]
        assert walked == [1, 2, 3, 4, 5]


async def test_append_refuses_a_record_that_does_not_follow(tmp_path: Path, signer: RecordSigner):
    async with LocalLedger(tmp_path / "l.db") as ledger:
        web = chain(signer, ledger.domain, "web", 2)
        with pytest.raises(LedgerError, match="does not follow"):
            await ledger.append(web[1])
        await ledger.append(web[0])
        with pytest.raises(LedgerError, match="does not follow"):
            await ledger.append(web[0])  # replay
        await ledger.append(web[1])


async def test_append_many_is_all_or_nothing(tmp_path: Path, signer: RecordSigner):
    async with LocalLedger(tmp_path / "l.db") as ledger:
        web = chain(signer, ledger.domain, "web", 3)
        with pytest.raises(LedgerError):
            await ledger.append_many([web[0], web[2]])
        assert await ledger.history("web") == []
        assert len(await ledger.append_many(web)) == 3


def _db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def _filled(path: Path, signer: RecordSigner) -> None:
    async with LocalLedger(path) as ledger:
        await ledger.append_many(chain(signer, ledger.domain, "web", 3))


async def test_edited_record_is_detected(tmp_path: Path, signer: RecordSigner):
    path = tmp_path / "l.db"
    await _filled(path, signer)
    with _db(path) as db:
        (body,) = db.execute("SELECT record FROM entries WHERE position = 2").fetchone()
        db.execute(
            "UPDATE entries SET record = ? WHERE position = 2",
            (body.replace("127.0.0.1", "10.6.6.6"),),
        )
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError, match="entry 2 was altered"):
            await ledger.history("web")
        with pytest.raises(LedgerError, match="entry 2 was altered"):
            [e async for e in ledger.entries()]


async def test_deleted_row_is_detected(tmp_path: Path, signer: RecordSigner):
    path = tmp_path / "l.db"
    await _filled(path, signer)
    with _db(path) as db:
        db.execute("DELETE FROM entries WHERE position = 2")
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError, match="entry 2 is missing"):
            [e async for e in ledger.entries()]
        with pytest.raises(LedgerError, match="entry 3 does not link"):
            await ledger.latest("web")


async def test_ledger_of_another_domain_is_refused(tmp_path: Path, signer: RecordSigner):
    path = tmp_path / "l.db"
    await _filled(path, signer)
    with pytest.raises(ConfigurationError, match="holds records of domain"):
        async with LocalLedger(path, domain=RecordDomain(name="other")):
            pass


async def test_a_ledger_of_an_older_record_format_says_how_to_start_a_new_one(
    tmp_path: Path, signer: RecordSigner
):
    # What an upgrade leaves behind: the same registry's ledger, signed under format 1.
    path = tmp_path / "ledger.sqlite3"
    older = RecordDomain(version="1")
    async with LocalLedger(path, domain=older) as ledger:
        await ledger.append_many(chain(signer, older, "web", 2))
    with pytest.raises(ConfigurationError) as refused:
        async with LocalLedger(path):
            pass
    aside = tmp_path / "ledger-format1.sqlite3"
    assert "written by an older minds371 (record format 1" in refused.value.message
    assert f"mv {path} {aside}" in refused.value.message
    assert refused.value.details == {"ledger": str(path), "format": "1", "move_to": str(aside)}
    # Doing what it says works, and the old records stay readable under their own format.
    path.rename(aside)
    async with LocalLedger(path) as ledger:
        await ledger.append(chain(signer, ledger.domain, "web", 1)[0])
        assert (await ledger.latest("web")) is not None
    async with LocalLedger(aside, domain=older) as kept:
        assert [e.record.sequence async for e in kept.entries()] == [1, 2]


async def test_a_ledger_of_a_newer_record_format_asks_for_an_upgrade(
    tmp_path: Path, signer: RecordSigner
):
    path = tmp_path / "ledger.sqlite3"
    async with LocalLedger(path, domain=RecordDomain(version="3")):
        pass
    with pytest.raises(ConfigurationError, match="written by a newer minds371") as refused:
        async with LocalLedger(path):
            pass
    assert "mv " not in refused.value.message


async def test_a_new_ledger_opened_by_many_at_once(tmp_path: Path, signer: RecordSigner):
    # Each ledger opens its connection in a worker thread of its own: the openers really race
    # to write the new file's domain.
    for round in range(10):
        path = tmp_path / f"{round}.db"
        ledgers = [LocalLedger(path) for _ in range(8)]
        async with anyio.create_task_group() as tg:
            for ledger in ledgers:
                tg.start_soon(ledger.__aenter__)
        try:
            web = chain(signer, ledgers[0].domain, "web", 1)
            await ledgers[-1].append(web[0])
            assert (await ledgers[0].latest("web")) is not None
        finally:
            for ledger in ledgers:
                await ledger.aclose()


# -- one tampering per check: each trips exactly one of the ledger's read checks -----------------


def _last_row(path: Path) -> tuple[int, str, str, str]:
    with _db(path) as db:
        row = db.execute(
            "SELECT position, record, record_hash, prev_entry_hash FROM entries "
            "ORDER BY position DESC LIMIT 1"
        ).fetchone()
    return row[0], row[1], row[2], row[3]


async def _refused(path: Path, match: str) -> None:
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError, match=match):
            await ledger.history("web")
        with pytest.raises(LedgerError, match=match):
            [e async for e in ledger.entries()]


async def test_entry_hash_check_alone(tmp_path: Path, signer: RecordSigner):
    # The last entry's stored link edited: its record, record hash and previous link are intact,
    # and no entry after it links to it, so only the entry-hash check can see it.
    path = tmp_path / "l.db"
    await _filled(path, signer)
    with _db(path) as db:
        db.execute("UPDATE entries SET entry_hash = ? WHERE position = 3", ("ee" * 32,))
    await _refused(path, "entry 3 was altered: its hash does not match its content")


async def test_record_digest_check_alone(tmp_path: Path, signer: RecordSigner):
    # The last record edited and its link re-computed over the edit: the chain is consistent,
    # only the record no longer hashes to its stored record hash.
    path = tmp_path / "l.db"
    await _filled(path, signer)
    position, body, digest, prev = _last_row(path)
    edited = body.replace("127.0.0.1", "10.6.6.6")
    with _db(path) as db:
        db.execute(
            "UPDATE entries SET record = ?, entry_hash = ? WHERE position = ?",
            (edited, entry_hash(prev, position, digest, edited), position),
        )
    await _refused(path, "entry 3 was altered: its record does not match its record hash")


async def test_previous_entry_check_alone(tmp_path: Path, signer: RecordSigner):
    # The last entry re-linked to something else, its own link re-computed: its content and
    # hash agree, only its link to the entry before it is wrong.
    path = tmp_path / "l.db"
    await _filled(path, signer)
    position, body, digest, _ = _last_row(path)
    other = "aa" * 32
    with _db(path) as db:
        db.execute(
            "UPDATE entries SET prev_entry_hash = ?, entry_hash = ? WHERE position = ?",
            (other, entry_hash(other, position, digest, body), position),
        )
    await _refused(path, "entry 3 does not link to the entry before it")


async def test_renamed_row_is_detected(tmp_path: Path, signer: RecordSigner):
    # The name column is in no hash: filed under another name, the row would serve that name.
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append_many(chain(signer, ledger.domain, "admin", 1))
    with _db(path) as db:
        db.execute("UPDATE entries SET name = 'web' WHERE position = 1")
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError, match=r"filed as web#1 but holds the record admin#1"):
            await ledger.latest("web")
        with pytest.raises(LedgerError, match=r"filed as web#1"):
            [e async for e in ledger.entries()]


async def test_renumbered_sequence_column_is_detected(tmp_path: Path, signer: RecordSigner):
    path = tmp_path / "l.db"
    await _filled(path, signer)
    with _db(path) as db:
        db.execute("UPDATE entries SET sequence = 9 WHERE position = 3")
    await _refused(path, r"filed as web#9 but holds the record web#3")
