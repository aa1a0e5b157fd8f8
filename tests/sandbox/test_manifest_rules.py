"""A provider's ``Manifest.Validate`` on every received manifest, rule by rule.

As ``chain-sdk:go/manifest/v2beta3`` (``groups.go``, ``group.go``, ``service.go``,
``serviceexpose.go``), which ``provider:manifest/manager.go`` runs before the version check.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from minds371_sandbox._manifest_rules import manifest_problem
from tests.sandbox.specs import manifest_group

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sdl" / "go" / "output-fixtures"


@pytest.mark.parametrize(
    "path",
    sorted(FIXTURES.glob("*/*/manifest.json")),
    ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}",
)
def test_every_manifest_go_builds_passes(path: Path) -> None:
    assert manifest_problem(json.loads(path.read_text())) == ""


def _exposes(group: dict[str, Any]) -> list[dict[str, Any]]:
    exposes: list[dict[str, Any]] = group["services"][0]["expose"]
    return exposes


def _second_service(group: dict[str, Any], name: str) -> None:
    group["services"].append({**copy.deepcopy(group["services"][0]), "name": name})


def _no_global(group: dict[str, Any]) -> None:
    for expose in _exposes(group):
        expose["global"] = False


def _host(host: str) -> Callable[[dict[str, Any]], None]:
    def change(group: dict[str, Any]) -> None:
        _exposes(group)[1]["hosts"] = [host]

    return change


def _same_host_twice(group: dict[str, Any]) -> None:
    _second_service(group, "www")
    for service in group["services"]:
        service["expose"][1]["hosts"] = ["shop.example.com"]


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("zero global", _no_global, "invalid manifest: zero global services"),
    (
        "exposes unsorted",
        lambda g: _exposes(g).reverse(),
        'invalid manifest: service "web": expose is not sorted',
    ),
    (
        "service name",
        lambda g: g["services"][0].update(name="Web"),
        'service "Web" name is invalid',
    ),
    ("empty image", lambda g: g["services"][0].update(image=""), 'service "web" has empty image'),
    (
        "env name",
        lambda g: g["services"][0].update(env=["1BAD=x"]),
        'defines an env. var. with an invalid name "1BAD"',
    ),
    ("port 0", lambda g: _exposes(g)[0].update(port=0), "port value must be 0 < value <= 65535"),
    ("protocol", lambda g: _exposes(g)[0].update(proto="SCTP"), 'protocol "SCTP" unknown'),
    ("hostname", _host("Shop.Example.com"), 'has invalid hostname "Shop.Example.com"'),
    ("hostname twice", _same_host_twice, 'hostname "shop.example.com" is duplicated'),
    ("no services", lambda g: g.update(services=[]), 'group "dcloud" contains no services'),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_refuses_what_go_refuses(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    group = manifest_group()
    change(group)
    problem = manifest_problem([group])
    assert expected in problem and problem.startswith("invalid manifest: ")


def test_services_out_of_name_order_and_groups_twice_and_nothing() -> None:
    group = manifest_group()
    _second_service(group, "api")  # appended after "web": out of order
    assert manifest_problem([group]) == 'invalid manifest: group "dcloud" services is not sorted'
    group["services"].sort(key=lambda s: s["name"])
    assert manifest_problem([group]) == ""
    assert manifest_problem([manifest_group(), manifest_group()]) == (
        'invalid manifest: duplicate group "dcloud"'
    )
    assert manifest_problem([]) == "invalid manifest: manifest is empty"
