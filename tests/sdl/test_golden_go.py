"""Golden tests against the Go reference implementation's own fixtures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from minds371.errors import ValidationError
from minds371_akash.sdl import build_manifest, canonical_json, manifest_version, parse_sdl
from minds371_akash.sdl._build import _Dumper
from tests.sdl.conftest import FIXTURES, GO, go_invalid_files, go_valid_cases

VECTORS = json.loads((FIXTURES / "manifest_version_vectors.json").read_text())


def _load(case: str, name: str) -> object:
    return json.loads((GO / "output-fixtures" / case / name).read_text())


def test_every_go_case_is_collected() -> None:
    assert len(go_valid_cases()) == 15
    assert len(go_invalid_files()) == 27


@pytest.mark.parametrize("case", go_valid_cases())
def test_manifest_equals_go_output(case: str) -> None:
    sdl = parse_sdl((GO / "input" / case / "input.yaml").read_text())
    manifest = build_manifest(sdl)
    expected = _load(case, "manifest.json")
    assert manifest.groups == expected
    # Byte-exact: the canonical text of our groups equals that of Go's marshalled manifest.
    assert manifest.json == canonical_json(expected)


@pytest.mark.parametrize("case", go_valid_cases())
def test_group_specs_equal_go_output(case: str) -> None:
    manifest = build_manifest(parse_sdl((GO / "input" / case / "input.yaml").read_text()))
    assert manifest.group_specs == _load(case, "group-specs.json")


@pytest.mark.parametrize("case", go_valid_cases())
def test_version_hash_matches_vector(case: str) -> None:
    manifest = build_manifest(parse_sdl((GO / "input" / case / "input.yaml").read_bytes()))
    expected = VECTORS["derived_from_go_fixtures"]["sha256_hex"][f"{case}/manifest.json"]
    assert manifest.version == expected
    assert manifest.version_bytes.hex() == expected
    assert manifest_version(manifest.json) == expected


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["case"])
def test_upstream_snapshot_vectors(vector: dict[str, str]) -> None:
    manifest = build_manifest(parse_sdl(vector["sdl_yaml"]))
    assert manifest.json == vector["manifest_sorted_json"]
    assert manifest.version == vector["manifest_version_sha256_hex"]


@pytest.mark.parametrize("path", go_invalid_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_invalid_case_is_refused_with_paths(path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        parse_sdl(path.read_text())
    error = info.value
    assert error.subject == "SDL"
    assert error.issues
    for issue in error.issues:
        assert issue.path.startswith("/")
        assert issue.message


EXPECTED_FIRST_PATH = {
    "count-zero": "/deployment/web/akash/count",
    "credentials-missing-host": "/services/web/credentials/host",
    "empty-image": "/services/web/image",
    "endpoint-not-used": "/endpoints/myendpoint",
    "invalid-endpoint-name": "/endpoints/Invalid-Name",
    "invalid-port": "/services/web/expose/0/port",
    "invalid-protocol": "/services/web/expose/0/proto",
    "ip-without-global": "/services/web/expose/0/to/0/global",
    "missing-deployment": "/deployment",
    "missing-image": "/services/web/image",
    "missing-memory-size": "/profiles/compute/web/resources/memory/size",
    "missing-pricing": "/profiles/placement/akash/pricing",
    "missing-version": "/version",
    "negative-cpu": "/profiles/compute/web/resources/cpu/units",
    "port-too-high": "/services/web/expose/0/port",
    "port-zero": "/services/web/expose/0/port",
    "ram-persistent-true": "/profiles/compute/web/resources/storage/0/attributes/persistent",
    "unknown-field": "/unknown_field",
    "v2.1-reclamation-bad-window": "/reclamation/min_window",
    "v2.1-tee-cpu-gpu-no-gpu": "/services/web/params/tee",
    "email-too-short": "/services/web/credentials/email",
    "invalid-denom": "/profiles/placement/akash/pricing/web/denom",
    "invalid-gpu-vendor": "/profiles/compute/web/resources/gpu/attributes/vendor/amd",
    "invalid-version": "/version",
    "password-too-short": "/services/web/credentials/password",
    "persistent-without-mount": "/services/web/params/storage/data/mount",
    "reclamation-compound-window": "/reclamation/min_window",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FIRST_PATH))
def test_invalid_case_names_the_offending_field(name: str) -> None:
    path = next(p for p in go_invalid_files() if p.stem == name)
    with pytest.raises(ValidationError) as info:
        parse_sdl(path.read_text())
    assert EXPECTED_FIRST_PATH[name] in [issue.path for issue in info.value.issues]


def test_uakt_is_accepted_with_a_warning() -> None:
    sdl = parse_sdl((GO / "input" / "v2.0" / "simple" / "input.yaml").read_text())
    assert [w.path for w in sdl.warnings] == ["/profiles/placement/westcoast/pricing/web/denom"]
    assert "uact" in sdl.warnings[0].message


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(go_valid_cases()), st.randoms(use_true_random=False))
def test_version_does_not_depend_on_yaml_key_order(case: str, rng: random.Random) -> None:
    text = (GO / "input" / case / "input.yaml").read_text()

    def shuffled(value: object) -> object:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {key: shuffled(item) for key, item in items}
        if isinstance(value, list):
            return [shuffled(item) for item in value]
        return value

    reordered = yaml.dump(shuffled(yaml.safe_load(text)), Dumper=_Dumper, sort_keys=False)
    expected = VECTORS["derived_from_go_fixtures"]["sha256_hex"][f"{case}/manifest.json"]
    assert build_manifest(parse_sdl(reordered)).version == expected
