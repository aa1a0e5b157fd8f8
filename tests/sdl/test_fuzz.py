"""Whatever the input, parse_sdl either returns a valid SDL or raises ValidationError.

Documents are valid SDLs mutated at random (values replaced by other types, keys dropped or
added), plus arbitrary text; anything accepted must also build a manifest.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from minds371.errors import ValidationError
from minds371_akash.sdl import build_manifest, normalize_manifest, parse_sdl
from tests.sdl._sdl import base, dump
from tests.sdl.conftest import GO, go_valid_cases

SEEDS = [base()] + [
    yaml.safe_load((GO / "input" / case / "input.yaml").read_text()) for case in go_valid_cases()
]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["500m", "1Gi", "-1", "0", "1e999", "0x10", "uakt", "ram", "/data", "*"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(_values)
        else:
            parent[path[-1]] = draw(_values)
    return dump(doc)


def _check(text: str) -> None:
    refused: ValidationError | None = None
    try:
        sdl = parse_sdl(text)
    except ValidationError as exc:
        refused = exc
    if refused is not None:
        assert refused.issues
        assert all(issue.path.startswith("/") for issue in refused.issues)
        return
    manifest = build_manifest(sdl)
    assert normalize_manifest(json.loads(manifest.json)) == manifest.groups


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _with_empty_storage() -> str:
    doc = base()
    doc["profiles"]["compute"]["web"]["resources"]["storage"] = []
    return dump(doc)


@_SETTINGS
@given(_mutated())
# Found by this test: `storage: []` built a manifest whose JSON differed from its groups.
@example(_with_empty_storage())
def test_mutated_sdls_never_escape_validation(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_arbitrary_text_never_escapes_validation(text: str) -> None:
    _check(text)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_validation(data: bytes) -> None:
    try:
        parse_sdl(data)
    except ValidationError:
        pass


_YAML_TOKENS = [
    "a", "b", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y",
    "!!str ", "!!int ", "!!map ", "!!seq ", "!!null ", "! ", "<<", "? ", "'q'", '"d"', "1",
    "0x1", "1.5", "~", "true", "#c", "---\n", "...\n", "|\n  t\n", ">\n  f\n", "%YAML 1.2\n",
    "!t ", "!!binary ", "!!timestamp ", "null", "-", "?", "*",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_YAML_TOKENS), max_size=30).map("".join))
def test_yaml_shaped_noise_never_escapes_validation(text: str) -> None:
    try:
        parse_sdl(text)
    except ValidationError:
        pass
