"""The benchmark script still runs (tiny sizes; no timing is asserted here)."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import REPO


async def test_bench_registry_runs_on_a_tiny_ledger(capsys: pytest.CaptureFixture[str]):
    spec = importlib.util.spec_from_file_location(
        "bench_registry", REPO / "benchmarks" / "bench_registry.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    await bench.main(records=40, names=8, samples=20)
    out = capsys.readouterr().out
    assert "build: 40 records, 8 names" in out
    assert "registry verify: 40 entries, 8 names" in out


async def test_bench_registry_burst_runs(capsys: pytest.CaptureFixture[str]):
    spec = importlib.util.spec_from_file_location(
        "bench_registry", REPO / "benchmarks" / "bench_registry.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    await bench.burst(names=8, registrations=6)
    out = capsys.readouterr().out
    assert "register concurrent: 6 new names into 8:" in out
    assert "register sequential: 6 new names into 14:" in out


async def test_bench_registry_bursts_and_seen_run(capsys: pytest.CaptureFixture[str]):
    spec = importlib.util.spec_from_file_location(
        "bench_registry", REPO / "benchmarks" / "bench_registry.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    await bench.bursts(5, rounds=2, spread=0.01)
    await bench.seen_notes(150, 4, notes=20)
    out = capsys.readouterr().out
    assert "burst 2: 5 new names into 5 (over 0.01 s):" in out
    assert "seen: 20 notes in groups of 4 into 150 names:" in out
