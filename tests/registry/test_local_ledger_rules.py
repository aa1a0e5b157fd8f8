"""The local ledger's rules one at a time: what an entry holds, the signed head, each refusal."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from minds371.errors import LedgerError
from minds371_registry import LocalLedger, RecordDomain, RecordSigner, record_digest
from minds371_registry.ledger._protocol import LedgerEntry
from minds371_registry.ledger.local import GENESIS_HASH, entry_hash

from .test_local_ledger import chain


def db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_a_local_ledger_describes_itself(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MINDS371_HOME", str(tmp_path / "home"))
    ledger = LocalLedger()
    assert ledger.path == tmp_path / "home" / "registry" / "ledger.sqlite3"
    assert (ledger.kind, ledger.anchored, ledger.domain) == ("local", False, RecordDomain())
    domain = RecordDomain(name="other")
    assert LocalLedger(tmp_path / "x.db", domain=domain).domain == domain


async def test_each_entry_links_to_the_one_before_by_its_hash(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        records = chain(signer, ledger.domain, "web", 2)
        first = await ledger.append(records[0])
        (second,) = await ledger.append_many([records[1]])
        walked = [entry async for entry in ledger.entries()]
    assert walked == [first, second]
    for entry, prev in ((first, GENESIS_HASH), (second, first.entry_hash)):
        digest = "0x" + record_digest(entry.record, RecordDomain()).hex()
        assert entry.record_hash == digest
        body = entry.record.canonical_json()
        assert entry.entry_hash == entry_hash(prev, entry.position, digest, body)
        assert entry.location == f"sqlite:{path}#{entry.position}"
    assert (first.position, second.position) == (1, 2)
    with db(path) as conn:
        rows = conn.execute(
            "SELECT position, name, sequence, prev_entry_hash FROM entries ORDER BY position"
        ).fetchall()
    assert rows == [(1, "web", 1, GENESIS_HASH), (2, "web", 2, first.entry_hash)]


async def test_entry_hash_covers_each_part() -> None:
    base = entry_hash("aa", 1, "0xbb", "{}")
    assert len(base) == 64 and int(base, 16) >= 0
    others = {entry_hash("ab", 1, "0xbb", "{}"), entry_hash("aa", 2, "0xbb", "{}")}
    others |= {entry_hash("aa", 1, "0xbc", "{}"), entry_hash("aa", 1, "0xbb", "{ }")}
    assert base not in others and len(others) == 4
    # the parts are separated: moving a character from one part into the next changes it
    assert entry_hash("a", 1, "1", "x") != entry_hash("a1", 1, "", "x")


async def test_a_record_that_does_not_follow_is_refused_with_the_expected_link(
    tmp_path: Path, signer: RecordSigner
) -> None:
    async with LocalLedger(tmp_path / "l.db") as ledger:
        records = chain(signer, ledger.domain, "web", 3)
        with pytest.raises(LedgerError) as caught:
            await ledger.append(records[1])
        assert caught.value.message == (
            "record web#2 does not follow the ledger's latest record of 'web' (sequence 0): "
            f"expected sequence 1 linking to 0x{'00' * 32}"
        )
        assert caught.value.details == {"name": "web", "sequence": 2, "head": 0}
        await ledger.append(records[0])
        with pytest.raises(LedgerError) as caught:
            await ledger.append(records[2])
        head = "0x" + record_digest(records[0], ledger.domain).hex()
        assert caught.value.message.endswith(f"(sequence 1): expected sequence 2 linking to {head}")
        # the right sequence with another link is refused too
        forked = records[1].model_copy(update={"prev_hash": "0x" + "11" * 32})
        with pytest.raises(LedgerError, match="does not follow"):
            await ledger.append(forked)
        assert [e.record.sequence for e in await ledger.history("web")] == [1]


async def test_a_batch_follows_its_own_earlier_records(
    tmp_path: Path, signer: RecordSigner
) -> None:
    async with LocalLedger(tmp_path / "l.db") as ledger:
        web = chain(signer, ledger.domain, "web", 3)
        api = chain(signer, ledger.domain, "api", 2)
        out = await ledger.append_many([web[0], api[0], web[1], api[1], web[2]])
        assert [e.position for e in out] == [1, 2, 3, 4, 5]
        assert [e.record.sequence for e in await ledger.history("web")] == [1, 2, 3]
        assert await ledger.append_many([]) == []


async def test_history_with_and_without_limits(tmp_path: Path, signer: RecordSigner) -> None:
    async with LocalLedger(tmp_path / "l.db") as ledger:
        records = chain(signer, ledger.domain, "web", 20)
        await ledger.append_many(records)
        everything = await ledger.history("web")
        assert [e.record.sequence for e in everything] == list(range(1, 21))
        for limit in (1, 16, 17, 30):
            got = await ledger.history("web", limit=limit)
            assert got == everything[-limit:]
        latest = await ledger.latest("web")
        assert latest is not None and latest.record.sequence == 20
        assert await ledger.latest("nobody") is None
        assert await ledger.history("nobody") == []


async def test_a_malformed_record_names_its_position(tmp_path: Path, signer: RecordSigner) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append_many(chain(signer, ledger.domain, "web", 1))
    with db(path) as conn:
        (digest, record_body) = conn.execute("SELECT record_hash, record FROM entries").fetchone()
        # one field made wrong, so that the refusal is that field's
        body = record_body.replace('"dseq":1,', '"dseq":"one",')
        assert body != record_body
        conn.execute(
            "UPDATE entries SET record = ?, entry_hash = ?",
            (body, entry_hash(GENESIS_HASH, 1, digest, body)),
        )
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError) as caught:
            await ledger.latest("web")
    assert caught.value.message == (
        "ledger entry 1 holds a malformed record: "
        "Input should be a valid integer, unable to parse string as an integer"
    )
    assert caught.value.details == {"position": 1}


async def test_each_read_refusal_names_the_position(tmp_path: Path, signer: RecordSigner) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append_many(chain(signer, ledger.domain, "web", 2))
    with db(path) as conn:
        conn.execute("DELETE FROM entries WHERE position = 1")
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError) as caught:
            [e async for e in ledger.entries()]
        assert caught.value.message == (
            "ledger entry 1 is missing (the next is 2): entries were removed"
        )
        assert caught.value.details == {"position": 1}
        with pytest.raises(LedgerError) as caught:
            await ledger.history("web")
        assert caught.value.message == (
            "ledger entry 2 does not link to the entry before it: entries were removed, "
            "reordered or edited"
        )
        assert caught.value.details == {"position": 2}


def head_maker(calls: list[tuple[Any, ...]]) -> Any:
    def make(stored: str | None, count: int, entries: list[LedgerEntry]) -> tuple[str, str]:
        calls.append((stored, count, [e.position for e in entries]))
        return f'{{"entries": {count}}}', f"head-{count}"

    return make


async def test_the_head_is_written_with_the_append_and_read_back(
    tmp_path: Path, signer: RecordSigner
) -> None:
    calls: list[tuple[Any, ...]] = []
    async with LocalLedger(tmp_path / "l.db") as ledger:
        assert await ledger.head_state() == (None, 0)
        assert await ledger.read_head() == (None, None, 0)
        records = chain(signer, ledger.domain, "web", 3)
        await ledger.append_many(records[:2], head=head_maker(calls))
        assert await ledger.head_state() == ("head-2", 2)
        assert await ledger.read_head() == ("head-2", '{"entries": 2}', 2)
        await ledger.append_many(records[2:], head=head_maker(calls))
        assert await ledger.read_head() == ("head-3", '{"entries": 3}', 3)
        # nothing appended: the head is not asked
        await ledger.append_many([], head=head_maker(calls))
    assert calls == [(None, 2, [1, 2]), ('{"entries": 2}', 3, [3])]


async def test_an_append_without_a_head_leaves_the_stored_head(
    tmp_path: Path, signer: RecordSigner
) -> None:
    async with LocalLedger(tmp_path / "l.db") as ledger:
        records = chain(signer, ledger.domain, "web", 2)
        await ledger.append_many(records[:1], head=head_maker([]))
        await ledger.append(records[1])
        assert await ledger.read_head() == ("head-1", '{"entries": 1}', 2)
        assert await ledger.head_state() == ("head-1", 2)


async def test_a_failing_head_appends_nothing(tmp_path: Path, signer: RecordSigner) -> None:
    def broken(*_: Any) -> tuple[str, str]:
        raise RuntimeError("cannot sign the head")

    async with LocalLedger(tmp_path / "l.db") as ledger:
        records = chain(signer, ledger.domain, "web", 2)
        with pytest.raises(RuntimeError, match="cannot sign the head"):
            await ledger.append_many(records, head=broken)
        assert await ledger.history("web") == []
        assert await ledger.read_head() == (None, None, 0)
        # and the ledger still takes the same records afterwards
        assert len(await ledger.append_many(records)) == 2


async def test_an_unopenable_file_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-ledger.db"
    path.write_bytes(b"this is not an SQLite database, only some text in its place" * 10)
    ledger = LocalLedger(path)
    with pytest.raises(LedgerError, match=f"cannot open the ledger {path}: file is not a database"):
        await ledger.__aenter__()
    await ledger.aclose()


async def test_close_then_reopen_reads_the_same_entries(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    ledger = LocalLedger(path)
    async with ledger:
        await ledger.append_many(chain(signer, ledger.domain, "web", 2))
        before = await ledger.latest("web")  # opens the inline reader too
    await ledger.aclose()  # a second close is harmless
    async with LocalLedger(path) as again:
        assert await again.latest("web") == before
        assert await again.head_state() == (None, 2)


@pytest.mark.parametrize(
    ("column", "value"),
    [("entry_hash", "ee" * 32), ("record_hash", "0x" + "ee" * 32), ("name", "api")],
)
async def test_every_tampered_entry_is_reported_with_its_position(
    tmp_path: Path, signer: RecordSigner, column: str, value: str
) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append_many(chain(signer, ledger.domain, "web", 1))
    with db(path) as conn:
        conn.execute(f"UPDATE entries SET {column} = ?", (value,))
        if column == "record_hash":  # the link re-computed over the edit: only the digest differs
            (body,) = conn.execute("SELECT record FROM entries").fetchone()
            conn.execute(
                "UPDATE entries SET entry_hash = ?", (entry_hash(GENESIS_HASH, 1, value, body),)
            )
    async with LocalLedger(path) as ledger:
        with pytest.raises(LedgerError) as caught:
            [e async for e in ledger.entries()]
    assert caught.value.details == {"position": 1}


async def test_a_folder_where_the_ledger_file_should_be_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.mkdir()
    with pytest.raises(LedgerError, match=r"cannot open the ledger at .*ledger\.sqlite3"):
        async with LocalLedger(path) as ledger:
            await ledger.latest("web")
