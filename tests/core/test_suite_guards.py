"""The suite's own guards (tests/conftest.py): CI runs every test and the same examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("skip_probe.py")


def run_probe(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MINDS371_LIVE")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(PROBE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_skipped_test_fails_the_run_under_ci() -> None:
    result = run_probe("true")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped" in result.stdout
    assert "skipped under CI=true, which runs every test: Skipped: peer-server not installed" in (
        result.stdout
    )


def test_outside_ci_a_missing_peer_only_skips() -> None:
    result = run_probe(None)
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout


def test_property_tests_are_derandomized_in_ci_and_random_locally() -> None:
    active = settings()
    assert active.derandomize is IN_CI
    # in CI nothing is replayed from an earlier run's database: the run is the commit's alone
    assert (active.database is None) is IN_CI
