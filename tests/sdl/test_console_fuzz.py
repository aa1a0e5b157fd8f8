"""Whatever the input, Console's rules either refuse it with named issues or build a manifest."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from minds371.errors import ValidationError
from minds371_akash.sdl import CONSOLE_SUBJECT, build_console_manifest
from minds371_akash.sdl._canonical import manifest_version
from tests.sdl.test_fuzz import _SETTINGS, _mutated


def _check(text: str) -> None:
    refused: ValidationError | None = None
    try:
        built = build_console_manifest(text)
    except ValidationError as exc:
        refused = exc
    if refused is not None:
        assert refused.subject in (CONSOLE_SUBJECT, "SDL")  # "SDL": the YAML itself is refused
        assert refused.issues
        assert all(issue.path.startswith("/") for issue in refused.issues)
        return
    assert isinstance(json.loads(built.json), list)
    assert manifest_version(built.json) == built.version


@_SETTINGS
@given(_mutated())
def test_mutated_sdls_never_escape_console_validation(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_arbitrary_text_never_escapes_console_validation(text: str) -> None:
    _check(text)
