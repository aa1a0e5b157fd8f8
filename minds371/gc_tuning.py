"""Garbage collection for a process that runs many tasks at once.

CPython's cyclic collector runs each time 700 more container objects (dicts, lists, model
instances) have been allocated than freed, and every run walks all the objects of the
generations it collects. A runtime with a thousand tasks in flight allocates hundreds of
thousands of objects that live as long as their task; they are freed by reference counting
when the task ends (the runtime and the deployment agent keep no reference cycles per task), so
most collections find nothing, while walking an ever larger heap. At 1,000 tasks at once this
was about a tenth of the client's CPU (``benchmarks/bench_load.py``).

:func:`tune_gc` changes the collector for the whole process, which is the host's decision:
``minds371 worker`` applies it once it serves; a program that embeds a runtime calls it itself
if it runs bursts of tasks (README, "Performance").
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

#: Allocations between two collections of the youngest generation (CPython's default: 700).
YOUNG_THRESHOLD = 50_000


def tune_gc(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Collect once, freeze what is alive, and collect the young generation less often.

    Objects alive now (modules, plugins, a started runtime) are moved out of every later
    collection (:func:`gc.freeze`); the youngest generation is collected every
    ``young_threshold`` allocations instead of 700. The older generations keep their ratios.
    Garbage in reference cycles is still collected, later: with few such cycles, memory grows
    by little.
    """
    if young_threshold < 1:
        raise ValueError("young_threshold must be at least 1")
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)
