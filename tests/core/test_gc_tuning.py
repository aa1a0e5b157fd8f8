"""tune_gc changes the collector of the process that calls it: each test runs in its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minds371.gc_tuning import YOUNG_THRESHOLD, tune_gc

PROBE = """
import gc
from minds371.gc_tuning import tune_gc
before = gc.get_threshold()
kept = [[] for _ in range(1000)]  # alive when tuned: frozen, never walked again
tune_gc({arg})
after = gc.get_threshold()
frozen = gc.get_freeze_count() >= 1000
print(before[0], after[0], after[1] == before[1], after[2] == before[2], frozen)
"""


def _run(arg: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(arg=arg)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.split()


def test_the_young_generation_is_collected_less_often_and_the_live_objects_are_frozen() -> None:
    assert _run("") == ["700", str(YOUNG_THRESHOLD), "True", "True", "True"]


def test_a_threshold_can_be_given() -> None:
    assert _run("young_threshold=9000")[1] == "9000"


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        tune_gc(0)
