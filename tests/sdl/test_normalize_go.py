"""normalize_manifest against Go's encoding/json on the same inputs (fixture data made with Go)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from minds371.errors import ValidationError
from minds371_akash.sdl import canonical_json, normalize_manifest
from tests.sdl.conftest import FIXTURES

VECTORS: list[dict[str, str]] = json.loads(
    (FIXTURES / "gojson" / "normalize-vectors.json").read_text()
)

# Where we knowingly differ from a bare json.Unmarshal:
# - an empty or null manifest decodes in Go but every provider then refuses it ("manifest is
#   empty"); normalize_manifest refuses it at once;
# - JSON "-0" is refused by Go for unsigned fields, but Python's json reads it as 0;
# - text that is not JSON never reaches normalize_manifest (json.loads refuses it).
REFUSED_EARLIER = {"[]", "null"}


def _outcome(text: str) -> tuple[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return ("not-json", None)
    try:
        canonical = canonical_json(normalize_manifest(data))
    except ValidationError as exc:
        return ("error", exc.issues[0].path)
    return ("ok", hashlib.sha256(canonical.encode()).hexdigest())


def test_vectors_cover_both_outcomes() -> None:
    assert sum("error" in v for v in VECTORS) > 100
    assert sum("sha256" in v for v in VECTORS) > 100


@pytest.mark.parametrize("start", range(0, 400, 50))
def test_same_result_as_go(start: int) -> None:
    for vector in VECTORS[start : start + 50]:
        text = vector["input"]
        kind, digest = _outcome(text)
        if text in REFUSED_EARLIER:
            assert kind == "error"
        elif kind == "not-json" or "-0}" in text:
            assert "error" in vector
        elif "error" in vector:
            assert kind == "error", (text, vector["error"])
            assert str(digest).startswith("/")
        else:
            assert (kind, digest) == ("ok", vector["sha256"]), text
