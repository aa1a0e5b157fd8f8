from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

OPENAPI = Path("/work/shared/reference/console-api-openapi.json")


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any] | None:
    if not OPENAPI.exists():
        return None
    # The generated document writes the dseq pattern as "^d+$" (a lost backslash).
    text = OPENAPI.read_text(encoding="utf-8").replace('"^d+$"', '"^\\\\d+$"')
    doc: dict[str, Any] = json.loads(text)
    return doc
