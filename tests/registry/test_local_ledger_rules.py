"""The local ledger's rules one at a time: what an entry holds, the signed head, each refusal."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from minds371.errors import ConfigurationError, LedgerError
from minds371_registry import LocalLedger, RecordDomain, RecordSigner, record_digest
from minds371_registry._sqlite import use_wal
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
    with pytest.raises(LedgerError) as caught:
        async with LocalLedger(path) as ledger:
            await ledger.latest("web")
    # the reason in the operating system's words, and the path as a detail a caller can read
    assert caught.value.message == f"cannot open the ledger at {path}: Is a directory"
    assert caught.value.details == {"path": str(path)}


# -- what an operator sees: the log, the open files, the journal mode ----------------------------


async def test_each_append_is_logged_with_what_it_appended(
    tmp_path: Path, signer: RecordSigner
) -> None:
    async with LocalLedger(tmp_path / "l.db") as ledger:
        records = chain(signer, ledger.domain, "web", 4)
        with capture_logs() as logs:
            await ledger.append(records[0])
            await ledger.append_many(records[1:])
            await ledger.append_many([])  # nothing appended: nothing logged
    assert logs == [
        {
            "event": "minds371.registry.ledger.appended",
            "log_level": "info",
            "name": "web",
            "sequence": 1,
            "position": 1,
        },
        {
            "event": "minds371.registry.ledger.appended_many",
            "log_level": "info",
            "count": 3,
            "first": 2,
            "last": 4,
        },
    ]


def open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path`` itself."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:  # the descriptor listing the folder itself, gone by now
            pass
    return count


async def test_an_open_ledger_keeps_one_connection_per_role_in_wal_mode(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    records = chain(signer, RecordDomain(), "web", 3)
    async with LocalLedger(path) as ledger:
        for record in records:
            await ledger.append(record)
        assert open_descriptors(path) == 1  # the writer, kept across appends
        await ledger.latest("web")
        await ledger.latest("web")
        assert open_descriptors(path) == 2  # and the inline reader, kept too
    assert open_descriptors(path) == 0
    with closing(db(path)) as other:  # WAL mode is stored in the file
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_half_opened_connection_is_closed(tmp_path: Path) -> None:
    # SQLite opens the file, then finds it is no database: that connection must not stay open.
    path = tmp_path / "not-a-ledger.db"
    path.write_bytes(b"this is not an SQLite database, only some text in its place" * 10)
    with pytest.raises(LedgerError, match="file is not a database") as caught:
        await LocalLedger(path).__aenter__()
    assert open_descriptors(path) == 0
    del caught


async def test_a_ledger_read_before_anything_else_creates_and_checks_its_file(
    tmp_path: Path, signer: RecordSigner
) -> None:
    # The inline reader is read-only: the writer connection makes the file and schema first.
    new = LocalLedger(tmp_path / "new.db")
    assert await new.latest("web") is None
    assert await new.head_state() == (None, 0)
    await new.aclose()
    other = tmp_path / "other.db"
    async with LocalLedger(other) as ledger:
        await ledger.append(chain(signer, ledger.domain, "web", 1)[0])
    with pytest.raises(ConfigurationError, match="holds records of domain"):
        await LocalLedger(other, domain=RecordDomain(name="other")).head_state()


# -- SQLite failing under an open ledger: each is a LedgerError naming the file and the reason ----


async def test_a_write_the_database_refuses_is_a_ledger_error_and_appends_nothing(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        records = chain(signer, ledger.domain, "web", 2)
        with db(path) as conn:
            conn.execute(
                "CREATE TRIGGER frozen BEFORE INSERT ON entries "
                "BEGIN SELECT RAISE(ABORT, 'the ledger is frozen'); END"
            )
        with pytest.raises(LedgerError) as caught:
            await ledger.append_many(records)
        assert caught.value.message == f"cannot append to the ledger {path}: the ledger is frozen"
        with db(path) as conn:
            conn.execute("DROP TRIGGER frozen")
        # the failed append was rolled back whole, and the writer is usable again
        assert await ledger.history("web") == []
        assert len(await ledger.append_many(records)) == 2


async def test_a_ledger_whose_tables_vanished_reports_each_read(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append(chain(signer, ledger.domain, "web", 1)[0])
        with db(path) as conn:
            conn.execute("DROP TABLE entries")
            conn.execute("DROP TABLE meta")
        entries = f"cannot read the ledger {path}: no such table: entries"
        meta = f"cannot read the ledger {path}: no such table: meta"
        with pytest.raises(LedgerError) as caught:
            await ledger.latest("web")  # inline, on the reader
        assert caught.value.message == entries
        with pytest.raises(LedgerError) as caught:
            await ledger.history("web")  # in the worker thread, on the writer
        assert caught.value.message == entries
        with pytest.raises(LedgerError) as caught:
            [e async for e in ledger.entries()]
        assert caught.value.message == entries
        with pytest.raises(LedgerError) as caught:
            await ledger.head_state()
        assert caught.value.message == meta
        with pytest.raises(LedgerError) as caught:
            await ledger.read_head()
        assert caught.value.message == meta


async def test_a_ledger_file_removed_while_open_cannot_be_read_inline(
    tmp_path: Path, signer: RecordSigner
) -> None:
    path = tmp_path / "l.db"
    async with LocalLedger(path) as ledger:
        await ledger.append(chain(signer, ledger.domain, "web", 1)[0])
        path.unlink()
        with pytest.raises(LedgerError) as caught:
            await ledger.latest("web")
    assert caught.value.message == f"cannot open the ledger {path}: unable to open database file"


async def test_concurrent_appends_go_through_one_writer_at_a_time(
    tmp_path: Path, signer: RecordSigner
) -> None:
    # One connection serves every task: two transactions at once on it would collide.
    names = [f"svc{i}" for i in range(6)]
    chains = {name: chain(signer, RecordDomain(), name, 4) for name in names}
    async with LocalLedger(tmp_path / "l.db") as ledger:

        async def append_all(name: str) -> None:
            for record in chains[name]:
                await ledger.append(record)

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(append_all, name)
        assert [e.position async for e in ledger.entries()] == list(range(1, 25))
        for name in names:
            assert [e.record for e in await ledger.history(name)] == chains[name]


async def test_closing_waits_for_an_append_in_flight(tmp_path: Path, signer: RecordSigner) -> None:
    path = tmp_path / "l.db"
    records = chain(signer, RecordDomain(), "web", 3)
    ledger = LocalLedger(path)
    await ledger.__aenter__()
    holder = db(path)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the file: the append waits for it
    appended: list[LedgerEntry] = []

    async def append() -> None:
        appended.extend(await ledger.append_many(records))

    async with anyio.create_task_group() as tg:
        tg.start_soon(append)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(ledger.aclose)
        await anyio.wait_all_tasks_blocked()
        holder.execute("COMMIT")
    holder.close()
    assert len(appended) == 3
    async with LocalLedger(path) as again:
        assert [e.record for e in await again.history("web")] == records


# -- switching a new file to WAL while another connection holds it, on a controlled clock --------


class Ticking:
    """A clock whose every reading is one second after the last, and a sleep that only records."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        reading, self.now = self.now, self.now + 1.0
        return reading

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.slept))


def held(path: Path) -> sqlite3.Connection:
    """A connection in the middle of a read of ``path`` (a new rollback-journal file).

    The connections under test wait for no lock (``timeout=0``): SQLite answers "locked" at once,
    as it does to an opener while another one is switching the same new file to WAL.
    """
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM t").fetchall()
    return holder


def test_the_switch_to_wal_waits_while_another_connection_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    holder = held(path)

    def let_go_after_three(sleeps: int) -> None:
        if sleeps == 3:
            holder.execute("COMMIT")

    ticking = Ticking(let_go_after_three)
    with closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as conn:
        use_wal(conn, clock=ticking.clock, sleep=ticking.sleep)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    holder.close()
    assert ticking.slept == [0.01, 0.01, 0.01]


def test_the_switch_to_wal_gives_up_after_five_seconds(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    holder = held(path)
    ticking = Ticking()
    with closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as conn:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            use_wal(conn, clock=ticking.clock, sleep=ticking.sleep)
        # the deadline is read at 100 (105); tries fail at 101 .. 105 and sleep, and at 106 it
        # is past: five sleeps, six tries
        assert ticking.slept == [0.01] * 5
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    holder.close()


def test_the_switch_to_wal_raises_any_other_error_at_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    held(path).close()
    ticking = Ticking()
    read_only = f"{path.as_uri()}?mode=ro"
    with closing(sqlite3.connect(read_only, uri=True, isolation_level=None, timeout=0)) as conn:
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            use_wal(conn, clock=ticking.clock, sleep=ticking.sleep)
    not_a_database = tmp_path / "not-a-ledger.db"
    not_a_database.write_bytes(b"this is not an SQLite database, only some text" * 10)
    with closing(sqlite3.connect(not_a_database, isolation_level=None, timeout=0)) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
            use_wal(conn, clock=ticking.clock, sleep=ticking.sleep)
    assert ticking.slept == []
