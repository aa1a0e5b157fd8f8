"""A served sandbox for the MCP proof tests: a block every 0.25 s, to cancel a deploy mid-way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.conftest import Sandbox, served_sandbox


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    with served_sandbox("0.25") as served:
        yield served
