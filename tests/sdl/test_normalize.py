"""normalize_manifest: the Go provider's decode/re-marshal round trip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from minds371.errors import ValidationError
from minds371_akash.sdl import (
    build_manifest,
    canonical_json,
    manifest_version,
    normalize_manifest,
    parse_sdl,
)
from tests.sdl.conftest import GO, go_valid_cases


def _go_manifest(case: str) -> list[dict[str, Any]]:
    path = GO / "output-fixtures" / case / "manifest.json"
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize("case", go_valid_cases())
def test_go_output_is_a_fixed_point(case: str) -> None:
    manifest = _go_manifest(case)
    assert normalize_manifest(manifest) == manifest


@pytest.mark.parametrize("case", go_valid_cases())
def test_rehash_of_sent_manifest_matches_the_version(case: str) -> None:
    built = build_manifest(parse_sdl((GO / "input" / case / "input.yaml").read_text()))
    received = json.loads(built.json)
    assert manifest_version(canonical_json(normalize_manifest(received))) == built.version


def test_unknown_keys_are_dropped_and_keys_match_ignoring_case() -> None:
    expected = _go_manifest("v2.0/simple")
    sent = copy.deepcopy(expected)
    service = sent[0]["services"][0]
    service["extra"] = {"anything": [1, 2]}
    service["Count"] = service.pop("count")
    service["resources"]["cpu"]["units"]["VAL"] = service["resources"]["cpu"]["units"].pop("val")
    assert normalize_manifest(sent) == expected


def test_missing_fields_take_go_zero_values() -> None:
    result = normalize_manifest([{"name": "g", "services": [{"name": "web"}]}])
    service = result[0]["services"][0]
    assert service["command"] is None
    assert service["count"] == 0
    assert service["expose"] is None
    assert service["credentials"] is None
    assert "params" not in service
    assert service["resources"] == {"id": 0, "endpoints": None}


def test_omitempty_fields_are_dropped_when_empty() -> None:
    sent = _go_manifest("v2.0/simple")
    service = sent[0]["services"][0]
    service["resources"]["cpu"]["attributes"] = []
    service["resources"]["endpoints"][0]["kind"] = 0
    service["expose"][0]["httpOptions"]["nextCases"] = []
    service["expose"][0]["httpOptions"]["proxyBufferSize"] = 0
    result = normalize_manifest(sent)[0]["services"][0]
    assert "attributes" not in result["resources"]["cpu"]
    assert result["resources"]["endpoints"][0] == {"sequence_number": 0}
    assert "nextCases" not in result["expose"][0]["httpOptions"]
    assert "proxyBufferSize" not in result["expose"][0]["httpOptions"]


def test_quantities_are_reprinted_in_base_ten() -> None:
    sent = [{"name": "g", "services": [{"resources": {"cpu": {"units": {"val": "0x10"}}}}]}]
    assert normalize_manifest(sent)[0]["services"][0]["resources"]["cpu"] == {
        "units": {"val": "16"}
    }


def test_lone_surrogates_become_replacement_characters() -> None:
    result = normalize_manifest([{"name": "g\ud800", "services": []}])
    assert result[0]["name"] == "g\ufffd"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"name": "g"}, "/"),
        ([], "/"),
        ([{"name": 1}], "/0/name"),
        ([{"services": [{"count": -1}]}], "/0/services/0/count"),
        ([{"services": [{"count": 2**32}]}], "/0/services/0/count"),
        ([{"services": [{"count": 1.0}]}], "/0/services/0/count"),
        ([{"services": [{"count": True}]}], "/0/services/0/count"),
        ([{"services": [{"env": "A=1"}]}], "/0/services/0/env"),
        ([{"services": [{"expose": [{"global": "yes"}]}]}], "/0/services/0/expose/0/global"),
        (
            [{"services": [{"resources": {"cpu": {"units": {"val": 100}}}}]}],
            "/0/services/0/resources/cpu/units/val",
        ),
        (
            [{"services": [{"resources": {"cpu": {"units": {"val": "1.5"}}}}]}],
            "/0/services/0/resources/cpu/units/val",
        ),
        (
            [{"services": [{"resources": {"cpu": {"units": {"val": None}}}}]}],
            "/0/services/0/resources/cpu/units/val",
        ),
    ],
)
def test_shapes_go_refuses_are_refused(data: object, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_manifest(data)
    assert [issue.path for issue in info.value.issues] == [path]
