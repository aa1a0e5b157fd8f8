"""Benchmark the embedded registry: a large local ledger, resolve latency, verification cost.

Run: ``python benchmarks/bench_registry.py`` (100,000 records for 10,000 names; about a minute),
or ``--records 10000 --names 1000`` for a quick look. Prints one line per measurement.

* build: sign every record (EIP-712, one key) and append them in batches (one transaction each);
* resolve, warm: ``BlockchainRegistryProvider.resolve`` of random names after each was resolved
  once: the ledger entry is re-read and re-hashed, the chain link and signature checked (the ECDSA
  recovery comes from the cache), the metadata read and checked against its CID;
* resolve, cold: the same with the signature cache emptied before each call;
* signature verification, cold: ``verify_record`` per record with an empty cache;
* registry verify: the whole ledger walked as ``minds371 registry verify`` does, cache emptied.

``--burst N --names M`` measures instead what registering costs in a ledger of M names: N
registrations of new names at once (as a burst of deployment tasks sharing one registry makes
them), then N more one after another, each through ``BlockchainRegistryProvider.register`` with the
client's memory of names seen (``seen.json``) kept. It prints the process CPU time per
registration and how many ledger transactions (so signed heads) they took.

``--bursts N`` measures what a home's registry costs as it fills: in a fresh home (ledger, content
store and the memory of names seen, as ``BlockchainRegistryProvider.default`` lays them out), N
registrations of new names at once, then N more at once in the same home. It prints the process
CPU time per registration of each burst: the second should cost about what the first did. It runs
the two bursts twice: all at once, and spread over ``--spread`` seconds (as the tasks of a burst
reach their end), when the groups committed together are smaller and more of them.

``--seen M`` measures the memory of names seen alone: into a memory of M names, 1,000 new names
noted in groups of 1, 4 and 16 (a group is what one ledger transaction appends), with the CPU time
per note. Noting costs as much as the group, not as much as the names held.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import structlog

from minds371_registry import (
    BlockchainRegistryProvider,
    DeploymentFacts,
    LocalContentStore,
    LocalLedger,
    RecordDomain,
    RecordSigner,
    record_digest,
)
from minds371_registry.discovery import HealthChecker
from minds371_registry.records import EMPTY_HASH, DeploymentRecord, recover_signer, verify_record
from minds371_registry.seen import SeenSequences

OWNER = "akash1" + "q" * 38
PROVIDER = "akash1" + "p" * 38


def _facts(name: str, dseq: int) -> DeploymentFacts:
    return DeploymentFacts(
        name=name,
        owner=OWNER,
        dseq=dseq,
        network="mainnet",
        providers=(PROVIDER,),
        endpoints=(f"https://{name}.ingress.example.net/", f"tcp://{name}.example.net:30080"),
        manifest_hash=f"{dseq:064x}",
    )


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def build(
    registry: BlockchainRegistryProvider, ledger: LocalLedger, names: int, per_name: int
) -> list[DeploymentRecord]:
    signer = registry.signer
    assert signer is not None
    domain = ledger.domain
    heads = {f"svc-{i:05d}": EMPTY_HASH for i in range(names)}
    cids = {name: await registry.content.put(b'{"name":"%s"}' % name.encode()) for name in heads}
    sample: list[DeploymentRecord] = []
    batch: list[DeploymentRecord] = []
    for seq in range(1, per_name + 1):
        for name in heads:
            record = signer.sign_record(
                _facts(name, seq),
                sequence=seq,
                prev_hash=heads[name],
                metadata_cid=cids[name],
                domain=domain,
                issued_at=1_800_000_000 + seq,
            )
            heads[name] = "0x" + record_digest(record, domain).hex()
            batch.append(record)
            if len(batch) == 10_000:
                await registry.append_records(batch)
                sample.extend(batch[:200])
                batch = []
    if batch:
        await registry.append_records(batch)
        sample.extend(batch[:200])
    return sample


async def main(records: int, names: int, samples: int) -> None:
    per_name = max(1, records // names)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ledger = LocalLedger(root / "ledger.sqlite3")
        registry = BlockchainRegistryProvider(
            ledger=ledger,
            content=LocalContentStore(root / "content"),
            signer=RecordSigner.generate(),
            health=HealthChecker(cache_ttl=0),
        )
        async with registry:
            started = time.perf_counter()
            sample = await build(registry, ledger, names, per_name)
            took = time.perf_counter() - started
            total = names * per_name
            print(f"build: {total} records, {names} names in {took:.1f} s ({total / took:.0f}/s)")

            rng = random.Random(1)
            picks = [f"svc-{rng.randrange(names):05d}" for _ in range(samples)]
            for name in set(picks):
                await registry.resolve(name)  # warm: page cache, signature cache
            warm = []
            for name in picks:
                t0 = time.perf_counter()
                await registry.resolve(name)
                warm.append((time.perf_counter() - t0) * 1000)
            print(
                f"resolve warm: p50 {statistics.median(warm):.3f} ms, "
                f"p99 {_percentile(warm, 99):.3f} ms (n={len(warm)}, target p50 <= 1 ms)"
            )
            cold = []
            for name in picks[:1000]:
                recover_signer.cache_clear()
                t0 = time.perf_counter()
                await registry.resolve(name)
                cold.append((time.perf_counter() - t0) * 1000)
            print(
                f"resolve cold signature: p50 {statistics.median(cold):.3f} ms, "
                f"p99 {_percentile(cold, 99):.3f} ms (n={len(cold)})"
            )

            recover_signer.cache_clear()
            trusted = registry.trusted_signers
            t0 = time.perf_counter()
            for record in sample:
                verify_record(record, ledger.domain, trusted, check_chain=False)
            per = (time.perf_counter() - t0) / len(sample) * 1e6
            print(f"signature verification, cold: {per:.0f} us per record (n={len(sample)})")

            recover_signer.cache_clear()
            report = await registry.verify()
            assert report.ok, report
            print(
                f"registry verify: {report.entries} entries, {report.names} names in "
                f"{report.seconds:.1f} s ({report.entries / report.seconds:.0f} entries/s)"
            )


class _CountingLedger(LocalLedger):
    """A local ledger that counts its write transactions (each signs one head)."""

    transactions = 0

    def _append_many(self, *args: Any, **kwargs: Any) -> Any:
        self.transactions += 1
        return super()._append_many(*args, **kwargs)


def _registry(root: Path, ledger: _CountingLedger) -> BlockchainRegistryProvider:
    """A registry with its files under ``root``, a fresh key and no health probes."""
    return BlockchainRegistryProvider(
        ledger=ledger,
        content=LocalContentStore(root / "content"),
        signer=RecordSigner.generate(),
        health=HealthChecker(cache_ttl=0),
        seen=SeenSequences(root / "seen.json"),
    )


async def burst(names: int, registrations: int) -> None:
    """CPU per registration into a ledger of ``names`` names: concurrent, then sequential."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ledger = _CountingLedger(root / "ledger.sqlite3")
        registry = _registry(root, ledger)
        async with registry:
            started = time.perf_counter()
            await build(registry, ledger, names, 1)
            print(f"ledger: {names} names in {time.perf_counter() - started:.1f} s")

            async def register(name: str, dseq: int) -> None:
                await registry.register(_facts(name, dseq), {"name": name, "dseq": dseq})

            for label, concurrent in (("concurrent", True), ("sequential", False)):
                ledger.transactions = 0
                wall, cpu = time.perf_counter(), time.process_time()
                new = [f"new-{label[:3]}-{i:05d}" for i in range(registrations)]
                if concurrent:
                    async with anyio.create_task_group() as group:
                        for i, name in enumerate(new):
                            group.start_soon(register, name, i + 1)
                else:
                    for i, name in enumerate(new):
                        await register(name, i + 1)
                cpu = time.process_time() - cpu
                wall = time.perf_counter() - wall
                print(
                    f"register {label}: {registrations} new names into {names}: "
                    f"{cpu / registrations * 1000:.3f} ms CPU per registration, "
                    f"{ledger.transactions} transactions, wall {wall:.2f} s"
                )
                names += registrations
            report = await registry.verify(check_content=False)
            assert report.ok, report


async def bursts(registrations: int, rounds: int = 2, spread: float = 0.0) -> list[float]:
    """CPU per registration (ms) of ``rounds`` concurrent bursts of new names in a fresh home.

    With ``spread`` (seconds), the registrations of a burst arrive evenly over that time, as the
    tasks of a burst reach their end, instead of all at once: the groups committed together are
    then smaller, and more of them.
    """
    out: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "registry"
        ledger = _CountingLedger(root / "ledger.sqlite3")
        registry = _registry(root, ledger)
        async with registry:

            async def register(name: str, dseq: int) -> None:
                if spread:
                    await anyio.sleep(spread * dseq / registrations)
                metadata = {"name": name, "dseq": dseq, "request_sha256": f"{dseq:064x}"}
                await registry.register(_facts(name, dseq), metadata)

            for round_ in range(rounds):
                ledger.transactions = 0
                new = [f"burst{round_}-{i:05d}" for i in range(registrations)]
                wall, cpu = time.perf_counter(), time.process_time()
                async with anyio.create_task_group() as group:
                    for i, name in enumerate(new):
                        group.start_soon(register, name, i + 1)
                cpu = time.process_time() - cpu
                wall = time.perf_counter() - wall
                per = cpu / registrations * 1000
                out.append(per)
                print(
                    f"burst {round_ + 1}: {registrations} new names into "
                    f"{round_ * registrations} (over {spread:g} s): "
                    f"{per:.3f} ms CPU per registration, "
                    f"{ledger.transactions} transactions, wall {wall:.2f} s"
                )
            report = await registry.verify(check_content=False)
            assert report.ok, report
    return out


async def seen_notes(held: int, group: int, notes: int = 1000) -> float:
    """CPU per note (us) of ``notes`` new names noted ``group`` at a time into ``held`` names."""
    domain = RecordDomain()
    digest = "0x" + "ab" * 32
    with tempfile.TemporaryDirectory() as tmp:
        memory = SeenSequences(Path(tmp) / "seen.json")
        for start in range(0, held, 100):
            names = range(start, min(start + 100, held))
            await memory.remember_all_durably(domain, [(f"old-{i}", 1, digest) for i in names])
        cpu = time.process_time()
        for start in range(0, notes, group):
            names = range(start, min(start + group, notes))
            await memory.remember_all_durably(domain, [(f"new-{i}", 1, digest) for i in names])
            memory.lookup(domain, f"new-{start}")  # as the next registration of the group does
        per = (time.process_time() - cpu) / notes * 1e6
    print(f"seen: {notes} notes in groups of {group} into {held} names: {per:.1f} us CPU per note")
    return per


if __name__ == "__main__":
    # Quiet the library's info events (one per append) so that only the numbers are printed.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5_000, help="resolve calls to time")
    parser.add_argument(
        "--burst", type=int, default=0, help="registrations to time (into --names names)"
    )
    parser.add_argument(
        "--bursts", type=int, default=0, help="two bursts of this many registrations, fresh home"
    )
    parser.add_argument(
        "--spread", type=float, default=2.0, help="with --bursts: seconds a spread burst lasts"
    )
    parser.add_argument(
        "--seen", type=int, default=-1, help="time noting names into a memory of this many"
    )
    args = parser.parse_args()
    if args.seen >= 0:
        for group in (1, 4, 16):
            anyio.run(seen_notes, args.seen, group)
    elif args.bursts:
        for spread in (0.0, args.spread):
            anyio.run(bursts, args.bursts, 2, spread)
    elif args.burst:
        anyio.run(burst, args.names, args.burst)
    else:
        anyio.run(main, args.records, args.names, args.samples)
