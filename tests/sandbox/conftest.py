from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# The response schemas of the reference OpenAPI document that the tests check, copied here so
# that the suite does not depend on where the shared reference folder is.
OPENAPI = Path(__file__).with_name("console_openapi_subset.json")


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    # The generated document writes the dseq pattern as "^d+$" (a lost backslash).
    text = OPENAPI.read_text(encoding="utf-8").replace('"^d+$"', '"^\\\\d+$"')
    doc: dict[str, Any] = json.loads(text)
    return doc
