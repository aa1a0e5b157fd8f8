"""Golden tests against @akashnetwork/chain-sdk outputs, wherever chain-sdk agrees with Go.

Go is the authority (providers run it). Each case where chain-sdk 1.0.0-alpha.25 disagrees is
listed below with the Go rule that explains it, and the test checks that the difference lies
only in the fields that rule touches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minds371.errors import ValidationError
from minds371_akash.sdl import build_manifest, parse_sdl
from tests.sdl.conftest import FIXTURES

GOLDEN = FIXTURES / "chain-sdk-golden"
CASES = sorted(GOLDEN.glob("*/*.chain-sdk.json"))

IP_NUMBERING = "Go numbers leased-IP endpoints 1, 2, 3... by sorted name; chain-sdk numbers all 1"
PARAMS_ORDER = "Go sorts params.storage by volume name; chain-sdk keeps YAML order"
VOLUME_ORDER = "Go sorts storage volumes by size, then persistence, then name"
ENDPOINT_ORDER = "Go derives endpoints from the exposes after sorting them by port"
NO_TO = "Go keeps an expose without `to` as a non-global entry; chain-sdk drops it"
GROUP_ORDER = "Go sorts groups by placement name"

# case -> (reason, fields the difference may touch)
KNOWN = {
    "chain-sdk-go-testdata/legacy__deployment-v2-c2c": (NO_TO, ("expose",)),
    "chain-sdk-go-testdata/legacy__deployment-v2-escrow": (NO_TO, ("expose",)),
    "chain-sdk-go-testdata/legacy__deployment-v2-multi-groups-ip-endpoint": (GROUP_ORDER, ()),
    "chain-sdk-go-testdata/legacy__deployment-v2.1-multi-groups-ip-endpoint": (GROUP_ORDER, ()),
    "chain-sdk-go-testdata/legacy__deployment-v2-multi-ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number"),
    ),
    "chain-sdk-go-testdata/legacy__deployment-v2.1-multi-ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number", "id"),
    ),
    "chain-sdk-go-testdata/legacy__deployment-v2-shared-ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number"),
    ),
    "chain-sdk-go-testdata/legacy__deployment-v2.1-shared-ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number", "id", "kind"),
    ),
    "chain-sdk-testdata/v2.0__ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number"),
    ),
    "chain-sdk-testdata/v2.1__ip-endpoint": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number"),
    ),
    # The Go output fixture for this very input is matched exactly in test_golden_go.
    "chain-sdk-testdata/v2.1__shared-ip": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number", "id"),
    ),
    "chain-sdk-ts-fixtures/shared-ip": (
        IP_NUMBERING,
        ("endpointSequenceNumber", "sequence_number"),
    ),
    "chain-sdk-go-testdata/legacy__deployment-v2-storage-beta2": (VOLUME_ORDER, ("storage",)),
    "chain-sdk-go-testdata/legacy__deployment-v2-storage-default": (VOLUME_ORDER, ("storage",)),
    "chain-sdk-go-testdata/legacy__deployment-v2-storage-updateC": (VOLUME_ORDER, ("storage",)),
    "chain-sdk-testdata/v2.0__storage-classes": (PARAMS_ORDER, ("storage",)),
    "chain-sdk-ts-fixtures/persistent_storage_valid": (PARAMS_ORDER, ("storage",)),
    "chain-sdk-go-testdata/simple3": (ENDPOINT_ORDER, ("endpoints",)),
    "chain-sdk-go-testdata/v2.1-simple3": (ENDPOINT_ORDER, ("endpoints",)),
}

# chain-sdk alpha.25 predates these fields; the Go parser and the current schema accept them.
NEWER_FIELDS = {
    "chain-sdk-go-testdata/v2.1-tee-cpu",
    "chain-sdk-go-testdata/v2.1-tee-cpu-gpu",
    "chain-sdk-testdata/v2.1__tee-cpu",
    "chain-sdk-testdata/v2.1__tee-cpu-gpu",
}


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.chain-sdk.json')}"


def _diff(ours: Any, theirs: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if type(ours) is not type(theirs):
        return [path]
    if isinstance(ours, dict):
        out: list[tuple[str, ...]] = []
        for key in set(ours) | set(theirs):
            if key not in ours or key not in theirs:
                out.append((*path, key))
            else:
                out += _diff(ours[key], theirs[key], (*path, key))
        return out
    if isinstance(ours, list):
        if len(ours) != len(theirs):
            return [path]
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in _diff(a, b, (*path, str(i)))
        ]
    return [] if ours == theirs else [path]


def _parse(path: Path) -> Any:
    return parse_sdl(path.with_name(path.name.replace(".chain-sdk.json", ".sdl.yaml")).read_text())


def test_golden_set_is_complete() -> None:
    assert len(CASES) == 147
    names = {_name(p) for p in CASES}
    assert set(KNOWN) <= names
    assert names >= NEWER_FIELDS


@pytest.mark.parametrize("path", CASES, ids=_name)
def test_agrees_with_chain_sdk_where_chain_sdk_agrees_with_go(path: Path) -> None:
    golden = json.loads(path.read_text())
    name = _name(path)
    if not golden["ok"]:
        if name in NEWER_FIELDS:
            build_manifest(_parse(path))
            return
        with pytest.raises(ValidationError):
            _parse(path)
        return
    manifest = build_manifest(_parse(path))
    if name not in KNOWN:
        assert manifest.json == golden["manifest_sorted_json"]
        assert manifest.version == golden["manifest_version_hex"]
        return
    _reason, fields = KNOWN[name]
    differences = _diff(manifest.groups, json.loads(golden["manifest_sorted_json"]))
    assert differences, f"{name} is listed as differing but now matches chain-sdk"
    if fields:
        for difference in differences:
            assert set(difference) & set(fields), difference
