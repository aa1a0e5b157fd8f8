"""go_sort / go_stable give exactly the orderings Go's sort package produced (fixture data)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from minds371_akash.sdl._gosort import go_sort, go_stable
from minds371_akash.sdl._manifest import _expose_less, _seq_less
from minds371_akash.sdl._resources import _storage_less
from tests.sdl.conftest import FIXTURES

CASES: list[list[Any]] = json.loads((FIXTURES / "gosort" / "go-sort-orders.json").read_text())


def _int_less(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["key"] < b["key"])


def _as_expose(item: list[Any]) -> dict[str, Any]:
    service, port, proto, is_global = item
    return {"service": service, "port": port, "proto": proto, "global": is_global}


def _as_volume(item: list[Any]) -> dict[str, Any]:
    size, persistent, name = item
    volume: dict[str, Any] = {"name": name, "size": {"val": str(size)}}
    if persistent:
        volume["attributes"] = [{"key": "persistent", "value": persistent}]
    return volume


KINDS: dict[
    str, tuple[Callable[..., None], Callable[[Any], dict[str, Any]], Callable[..., bool]]
] = {
    "sort": (go_sort, lambda key: {"key": key}, _int_less),
    "stable": (go_stable, lambda key: {"key": key}, _int_less),
    "expose": (go_sort, _as_expose, _expose_less),
    "endpoint": (go_sort, lambda seq: {"sequence_number": seq}, _seq_less),
    "storage": (go_stable, _as_volume, _storage_less),
}


def test_fixture_covers_every_kind_and_long_inputs() -> None:
    assert {case[0] for case in CASES} == set(KINDS)
    assert max(len(case[1]) for case in CASES) >= 200


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_orders_equal_go(kind: str) -> None:
    sort, make, less = KINDS[kind]
    checked = 0
    for case_kind, items, expected in CASES:
        if case_kind != kind:
            continue
        tagged = [{**make(item), "_index": index} for index, item in enumerate(items)]
        sort(tagged, less)
        assert [t["_index"] for t in tagged] == expected, (kind, items)
        checked += 1
    assert checked > 50


def test_python_sorted_would_differ_on_ties() -> None:
    # The reason for go_sort: on equal keys Go's unstable sort is not Python's stable sort.
    differing = 0
    for kind, items, expected in CASES:
        if kind == "endpoint" and len(items) > 12:
            stable = sorted(range(len(items)), key=lambda i: items[i])
            differing += stable != expected
    assert differing > 0
