"""An SDL that no provider accepts a manifest of: no deployed service exposed globally.

Providers refuse such a manifest ("invalid manifest: zero global services", chain-sdk
``go/manifest/v2beta3/groups.go``) after the deposit and the lease; neither SDL parser does, so
the client refuses it before the first transaction, under either network's rules.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minds371.errors import ValidationError
from minds371_akash._prepare import prepare_sdl
from minds371_akash.sdl import runnable_issues
from tests.sdl.test_console_rules import document, text


def _internal_only() -> dict[str, Any]:
    doc = document()
    doc["services"]["web"]["expose"] = [{"port": 80, "to": [{"service": "web"}]}]
    return doc


def internal_only_sdl() -> str:
    """An SDL whose one service exposes port 80 to itself only: nothing global."""
    return text(_internal_only())


@pytest.mark.parametrize("rules", ["go", "console"])
def test_no_global_expose_is_refused_before_any_spend(rules: str) -> None:
    sdl = internal_only_sdl()
    (issue,) = runnable_issues(sdl)
    assert issue.path == "/services" and "zero global services" in issue.message
    with pytest.raises(ValidationError) as info:
        prepare_sdl(sdl, rules=rules)  # type: ignore[arg-type]
    assert [i.path for i in info.value.issues] == ["/services"]


def test_a_global_expose_counts_only_on_a_deployed_service() -> None:
    doc = _internal_only()
    doc["services"]["idle"] = copy.deepcopy(document()["services"]["web"])  # global, not deployed
    assert [i.path for i in runnable_issues(text(doc))] == ["/services"]
    doc["deployment"]["idle"] = {"dcloud": {"profile": "web", "count": 1}}
    assert runnable_issues(text(doc)) == []
    assert runnable_issues(text(document())) == []
