"""Registrations queued behind the writer's lock are appended together, each with its outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import anyio
from structlog.testing import capture_logs

from minds371.errors import SignatureError
from minds371_registry import (
    BlockchainRegistryProvider,
    LocalContentStore,
    LocalLedger,
    RecordSigner,
    RegistryReceipt,
    SeenSequences,
)
from minds371_registry._seen_file import SeenFile
from minds371_registry.head import HeadBuilder, LedgerHead, NameHead, sign_head, verify_head
from minds371_registry.ledger import LedgerEntry
from minds371_registry.records import DeploymentRecord, RecordDomain, record_digest

from ._tamper import rewrite_row
from .conftest import make_facts


class _RacedLedger(LocalLedger):
    """A ledger file another writer appends to just before this one's next appends.

    ``interlopers`` runs one per append, in order (None: nobody interferes with that append).
    """

    interlopers: list[Callable[[], Awaitable[object]] | None]

    async def append_many(
        self, records: Iterable[DeploymentRecord], **kwargs: Any
    ) -> list[LedgerEntry]:
        interloper = self.interlopers.pop(0) if getattr(self, "interlopers", None) else None
        if interloper is not None:
            await interloper()
        return await super().append_many(records, **kwargs)


def _provider(home: Path, signer: RecordSigner, ledger: LocalLedger | None = None):
    return BlockchainRegistryProvider(
        ledger=ledger or LocalLedger(home / "ledger.sqlite3"),
        content=LocalContentStore(home / "content"),
        signer=signer,
        seen=SeenSequences(home / "seen.json"),
    )


async def _queued(
    registry: BlockchainRegistryProvider, calls: Mapping[str, Callable[[], Awaitable[Any]]]
) -> dict[str, Any]:
    """Run ``calls`` at once, all queued behind the writer's lock before any is committed."""
    outcomes: dict[str, Any] = {}

    async def one(key: str) -> None:
        try:
            outcomes[key] = await calls[key]()
        except Exception as exc:
            outcomes[key] = exc

    lock = registry._writer_lock()
    await lock.acquire()
    held = True
    try:
        async with anyio.create_task_group() as group:
            for key in calls:
                group.start_soon(one, key)
            await anyio.wait_all_tasks_blocked()
            assert not outcomes  # every call waits for the lock the test holds
            held = False
            lock.release()
    finally:
        if held:
            lock.release()
    return outcomes


_LEDGER = "minds371.registry.ledger"


def _appends(logs: list[MutableMapping[str, Any]]) -> list[int]:
    """The number of records of each ledger transaction, from the ledger's log events."""
    return [
        e.get("count", 1)
        for e in logs
        if e["event"]
        in {"minds371.registry.ledger.appended", "minds371.registry.ledger.appended_many"}
    ]


async def test_queued_registrations_are_one_transaction_with_one_head(
    clean_environ: Path, signer: RecordSigner
):
    names = [f"svc-{i}" for i in range(12)]
    async with _provider(clean_environ, signer) as registry:
        await registry.register(make_facts("svc-0"), {"v": 0})  # a name the head already holds
        calls = {n: (lambda n=n: registry.register(make_facts(n, dseq=7), {"n": n})) for n in names}
        with capture_logs() as logs:
            receipts = await _queued(registry, calls)
        assert _appends(logs) == [12]  # one transaction for the twelve
        assert all(isinstance(r, RegistryReceipt) and r.created for r in receipts.values())
        assert {n: r.sequence for n, r in receipts.items()} == {
            n: 2 if n == "svc-0" else 1 for n in names
        }
        assert (await registry.verify()).ok
    # Another reader parses the stored head (written by the builder), checks its signature and
    # finds each name's latest record in it; the home's memory holds every name.
    async with _provider(clean_environ, signer) as reader:
        head = await reader.signed_head()
        assert head is not None and head.entries == 13
        assert {n: head.names[n].record_hash for n in names} == {
            n: r.record_id for n, r in receipts.items()
        }
        assert [(await reader.resolve(n)).record_id for n in names] == [
            receipts[n].record_id for n in names
        ]
    # As another process reads the files (the snapshot and its log).
    (per_name,) = SeenFile(clean_environ / "seen.json").memory().values()
    assert {n: per_name[n][0] for n in names} == {n: receipts[n].sequence for n in names}


async def test_one_name_twice_in_the_queue_gets_two_records_in_order(
    clean_environ: Path, signer: RecordSigner
):
    async with _provider(clean_environ, signer) as registry:
        calls = {
            "web-1": lambda: registry.register(make_facts(dseq=1), {"v": 1}),
            "api": lambda: registry.register(make_facts("api"), {"v": 1}),
            "web-2": lambda: registry.register(make_facts(dseq=2), {"v": 2}),
            "web-again": lambda: registry.register(make_facts(dseq=2), {"v": 2}),
        }
        with capture_logs() as logs:
            out = await _queued(registry, calls)
        assert _appends(logs) == [2, 1]  # web-2 waits for the next group: it follows web-1
        assert (out["web-1"].sequence, out["web-2"].sequence) == (1, 2)
        assert not out["web-again"].created and out["web-again"].sequence == 2
        assert (await registry.verify()).ok


async def test_a_refused_registration_does_not_fail_its_neighbours(
    clean_environ: Path, signer: RecordSigner
):
    async with _provider(clean_environ, signer) as registry:
        await registry.register(make_facts(), {"v": 1})
        latest = await registry.ledger.latest("web")
        assert latest is not None
        forged = RecordSigner.generate().sign_record(
            make_facts(endpoints=("http://203.0.113.9/",)),
            sequence=1,
            prev_hash=latest.record.prev_hash,
            metadata_cid=latest.record.metadata_cid,
            domain=registry.ledger.domain,
        )
        digest = "0x" + record_digest(forged, registry.ledger.domain).hex()
        rewrite_row(clean_environ / "ledger.sqlite3", 1, forged.canonical_json(), digest)
        calls = {
            n: (lambda n=n: registry.register(make_facts(n, dseq=2), {"n": n}))
            for n in ("api", "web", "db")
        }
        out = await _queued(registry, calls)
        assert isinstance(out["web"], SignatureError)
        assert "not a trusted signer" in out["web"].message
        assert out["api"].sequence == out["db"].sequence == 1
        assert len(await registry.ledger.history("web")) == 1  # nothing signed on the forgery


async def test_a_group_that_loses_a_race_is_appended_again_one_by_one(
    clean_environ: Path, signer: RecordSigner
):
    # Another writer (another process) appends a record of "api" after the group signed its
    # records and before it appends them: the group's transaction is refused as a whole, and each
    # registration is appended again alone, "api" on top of the other writer's record.
    ledger = _RacedLedger(clean_environ / "ledger.sqlite3")
    async with (
        _provider(clean_environ, signer, ledger) as registry,
        _provider(clean_environ, signer) as other,
    ):
        await registry.register(make_facts("api"), {"v": 1})
        ledger.interlopers = [lambda: other.register(make_facts("api", dseq=99), {"other": 1})]
        calls = {
            n: (lambda n=n: registry.register(make_facts(n, dseq=2), {"n": n}))
            for n in ("web", "api")
        }
        with capture_logs() as logs:
            out = await _queued(registry, calls)
        assert [e for e in logs if e["event"] == "minds371.registry.group_split"]
        assert out["web"].sequence == 1 and out["api"].sequence == 3
        history = await registry.history("api")
        assert [e.record.dseq for e in history] == [1234, 99, 2]
        assert (await registry.verify()).ok


async def test_a_cancelled_caller_leaves_the_queue_and_appends_nothing(
    clean_environ: Path, signer: RecordSigner
):
    async with _provider(clean_environ, signer) as registry:
        done: list[str] = []

        async def one(name: str) -> None:
            await registry.register(make_facts(name), {"n": name})
            done.append(name)

        scope = anyio.CancelScope()

        async def doomed() -> None:
            with scope:
                await one("db")

        lock = registry._writer_lock()
        await lock.acquire()
        async with anyio.create_task_group() as group:
            group.start_soon(one, "web")
            group.start_soon(doomed)
            group.start_soon(one, "api")
            await anyio.wait_all_tasks_blocked()  # all three queued behind the lock
            scope.cancel()
            await anyio.wait_all_tasks_blocked()
            lock.release()
        assert sorted(done) == ["api", "web"]
        assert await registry.ledger.history("db") == []
        assert (await registry.verify()).ok


async def test_a_holder_cancelled_mid_append_still_hands_each_caller_its_entry(
    clean_environ: Path, signer: RecordSigner
):
    # The caller that holds the lock commits the group; it is cancelled while the group's
    # transaction runs. The transaction completes in its thread all the same, and the others get
    # the entries it appended rather than registering a second time.
    ledger = _RacedLedger(clean_environ / "ledger.sqlite3")
    async with _provider(clean_environ, signer, ledger) as registry:
        scope = anyio.CancelScope()

        async def cancel_the_holder() -> None:
            scope.cancel()

        ledger.interlopers = [cancel_the_holder]
        out: dict[str, RegistryReceipt] = {}

        async def holder() -> None:
            with scope:
                out["web"] = await registry.register(make_facts(), {"v": 1})

        async def neighbour() -> None:
            out["api"] = await registry.register(make_facts("api"), {"v": 1})

        lock = registry._writer_lock()
        await lock.acquire()
        async with anyio.create_task_group() as group:
            group.start_soon(holder)
            group.start_soon(neighbour)
            await anyio.wait_all_tasks_blocked()
            lock.release()
        assert scope.cancelled_caught and "web" not in out
        assert out["api"].created and out["api"].sequence == 1
        assert len(await registry.ledger.history("web")) == 1  # appended with the group
        assert not (await registry.register(make_facts(), {"v": 1})).created
        assert (await registry.verify()).ok


async def test_a_holder_cancelled_between_appends_leaves_the_rest_to_their_callers(
    clean_environ: Path, signer: RecordSigner
):
    # The group [web, api] loses a race on "api", and the holder is cancelled before it has
    # appended them again one by one: what it did not append goes back to the queue, and the
    # caller of "api" appends its own record when it gets the lock.
    ledger = _RacedLedger(clean_environ / "ledger.sqlite3")
    async with (
        _provider(clean_environ, signer, ledger) as registry,
        _provider(clean_environ, signer) as other,
    ):
        await registry.register(make_facts("api"), {"v": 1})
        scope = anyio.CancelScope()

        async def race_and_cancel() -> None:
            await other.register(make_facts("api", dseq=99), {"other": 1})
            scope.cancel()

        ledger.interlopers = [race_and_cancel]
        out: dict[str, RegistryReceipt] = {}

        async def holder() -> None:
            with scope:
                out["web"] = await registry.register(make_facts(), {"v": 1})

        async def neighbour() -> None:
            out["api"] = await registry.register(make_facts("api", dseq=2), {"v": 2})

        lock = registry._writer_lock()
        await lock.acquire()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(holder)
                group.start_soon(neighbour)
                await anyio.wait_all_tasks_blocked()
                lock.release()
        assert scope.cancelled_caught and "web" not in out
        assert [e.record.dseq for e in await registry.history("api")] == [1234, 99, 2]
        assert out["api"].sequence == 3
        assert len(await registry.ledger.history("web")) <= 1
        assert (await registry.verify()).ok


def test_the_builders_head_is_sign_heads_head_and_its_text_parses_to_it():
    signer, domain = RecordSigner.generate(), RecordDomain()
    names = {
        f"n{i:02d}": NameHead(sequence=i + 1, record_hash="0x" + f"{i:02x}" * 32) for i in range(9)
    }
    builder = HeadBuilder({k: v for k, v in names.items() if k != "n04"})
    builder.set("n04", 5, "0x" + "04" * 32)  # a name in the middle of the sorted ones
    head, text = builder.sign(signer, domain, entries=9, last_entry_hash="ab" * 32, issued_at=77)
    reference = sign_head(
        signer, domain, entries=9, last_entry_hash="ab" * 32, names=names, issued_at=77
    )
    assert head == reference  # the same signed statement (ECDSA here is deterministic)
    assert LedgerHead.model_validate_json(text) == reference
    verify_head(LedgerHead.model_validate_json(text), domain, [signer.address])
    builder.set("n00", 2, "0x" + "ff" * 32)
    assert head.names["n00"].sequence == 1  # a signed head does not change with the builder


_BURST_CHILD = """
import sys
from pathlib import Path

import anyio

from minds371_registry import BlockchainRegistryProvider
from tests.registry.conftest import make_facts


async def main(home: Path) -> None:
    async with BlockchainRegistryProvider.default(home=home) as registry:
        round = 0
        while True:
            async with anyio.create_task_group() as group:
                for i in range(round * 20, round * 20 + 20):
                    group.start_soon(registry.register, make_facts(f"svc-{i}", dseq=i + 1))
            if round == 0:
                print("ready", flush=True)
            round += 1


anyio.run(main, Path(sys.argv[1]))
"""


async def test_a_burst_killed_mid_way_leaves_a_ledger_that_verifies_and_retries_append_nothing(
    clean_environ: Path,
):
    import random
    import signal
    import sys

    from .conftest import REPO

    async with await anyio.open_process(
        [sys.executable, "-c", _BURST_CHILD, str(clean_environ)], cwd=REPO, stderr=None
    ) as child:
        assert child.stdout is not None
        first = b""
        while not first.endswith(b"\n"):
            first += await child.stdout.receive(1)
        assert first == b"ready\n"  # one group of twenty registered; more are under way
        await anyio.sleep(random.uniform(0.05, 0.3))
        child.send_signal(signal.SIGKILL)
        await child.wait()
    async with BlockchainRegistryProvider.default(home=clean_environ) as registry:
        assert (await registry.verify()).ok
        registered = {e.record.name: e.record for e in [x async for x in registry.ledger.entries()]}
        assert len(registered) >= 20
        total = len(registered)
        for name, record in registered.items():
            again = await registry.register(make_facts(name, dseq=record.dseq))
            assert not again.created and again.sequence == 1
        tail = await registry.register(make_facts(f"svc-{total}", dseq=total + 1))
        assert tail.created
        assert (await registry.verify()).ok
